using System.Buffers.Binary;

namespace Gfs.Storage.Wal;

/// <summary>
/// Payloads of the metadata log (little endian). Update covers writes, appends and version changes whose
/// bytes are already synced in the chunk file; Overwrite carries its bytes too (redo), because bytes
/// replaced in place must never be left disagreeing with their checksum after a crash. Append is an
/// Update of bytes a record append wrote at the chunk's end, with the append's identity (offset, client
/// id, sequence after the checksums): the identity is durable exactly when the append is. Stores from
/// before Append existed hold only the other types.
/// </summary>
internal static class WalRecord
{
    public const byte Create = 1;
    public const byte Update = 2;
    public const byte Overwrite = 3;
    public const byte Delete = 4;
    public const byte Append = 5;

    public static byte[] EncodeCreate(long handle, long version)
    {
        var b = new byte[17];
        b[0] = Create;
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(1), handle);
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(9), version);
        return b;
    }

    public static byte[] EncodeDelete(long handle)
    {
        var b = new byte[9];
        b[0] = Delete;
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(1), handle);
        return b;
    }

    public static int UpdateSize(int crcCount) => 1 + 8 + 8 + 8 + 4 + 4 + (4 * crcCount);

    public static int OverwriteSize(int crcCount, int dataLength) => UpdateSize(crcCount) + 8 + 4 + dataLength;

    public static int AppendSize(int crcCount) => UpdateSize(crcCount) + 8 + 8 + 8;

    /// <summary>Writes an Append record: an Update plus where the record went and its identity; returns its size.</summary>
    public static int EncodeAppend(Span<byte> b, long handle, long version, long length, int firstBlock, ReadOnlySpan<uint> crcs, long offset, AppendId id)
    {
        var at = Encode(b, handle, version, length, firstBlock, crcs, 0, default, overwrite: false);
        b[0] = Append;
        BinaryPrimitives.WriteInt64LittleEndian(b[at..], offset);
        BinaryPrimitives.WriteInt64LittleEndian(b[(at + 8)..], id.ClientId);
        BinaryPrimitives.WriteInt64LittleEndian(b[(at + 16)..], id.Sequence);
        return at + 24;
    }

    /// <summary>Writes an Update (or, with data, an Overwrite) record; returns its size.</summary>
    public static int Encode(Span<byte> b, long handle, long version, long length, int firstBlock, ReadOnlySpan<uint> crcs, long offset, ReadOnlySpan<byte> data, bool overwrite)
    {
        b[0] = overwrite ? Overwrite : Update;
        BinaryPrimitives.WriteInt64LittleEndian(b[1..], handle);
        BinaryPrimitives.WriteInt64LittleEndian(b[9..], version);
        BinaryPrimitives.WriteInt64LittleEndian(b[17..], length);
        BinaryPrimitives.WriteInt32LittleEndian(b[25..], firstBlock);
        BinaryPrimitives.WriteInt32LittleEndian(b[29..], crcs.Length);
        var at = 33;
        foreach (var c in crcs)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b[at..], c);
            at += 4;
        }

        if (!overwrite)
        {
            return at;
        }

        BinaryPrimitives.WriteInt64LittleEndian(b[at..], offset);
        BinaryPrimitives.WriteInt32LittleEndian(b[(at + 8)..], data.Length);
        data.CopyTo(b[(at + 12)..]);
        return at + 12 + data.Length;
    }

    public readonly ref struct Decoded
    {
        public byte Type { get; init; }

        public long Handle { get; init; }

        public long Version { get; init; }

        public long Length { get; init; }

        public int FirstBlock { get; init; }

        public ReadOnlySpan<byte> Crcs { get; init; }

        public long Offset { get; init; }

        public ReadOnlySpan<byte> Data { get; init; }

        /// <summary>Append only: the record's identity.</summary>
        public AppendId Identity { get; init; }
    }

    public static Decoded Decode(ReadOnlySpan<byte> p)
    {
        var type = p[0];
        var handle = BinaryPrimitives.ReadInt64LittleEndian(p[1..]);
        switch (type)
        {
            case Create:
                return new Decoded { Type = type, Handle = handle, Version = BinaryPrimitives.ReadInt64LittleEndian(p[9..]) };
            case Delete:
                return new Decoded { Type = type, Handle = handle };
            case Update or Overwrite or Append:
                var count = BinaryPrimitives.ReadInt32LittleEndian(p[29..]);
                var crcs = p.Slice(33, 4 * count);
                var at = 33 + (4 * count);
                long offset = 0;
                ReadOnlySpan<byte> data = default;
                AppendId identity = default;
                if (type == Overwrite)
                {
                    offset = BinaryPrimitives.ReadInt64LittleEndian(p[at..]);
                    var len = BinaryPrimitives.ReadInt32LittleEndian(p[(at + 8)..]);
                    data = p.Slice(at + 12, len);
                }
                else if (type == Append)
                {
                    offset = BinaryPrimitives.ReadInt64LittleEndian(p[at..]);
                    identity = new AppendId(BinaryPrimitives.ReadInt64LittleEndian(p[(at + 8)..]), BinaryPrimitives.ReadInt64LittleEndian(p[(at + 16)..]));
                }

                return new Decoded
                {
                    Type = type,
                    Handle = handle,
                    Version = BinaryPrimitives.ReadInt64LittleEndian(p[9..]),
                    Length = BinaryPrimitives.ReadInt64LittleEndian(p[17..]),
                    FirstBlock = BinaryPrimitives.ReadInt32LittleEndian(p[25..]),
                    Crcs = crcs,
                    Offset = offset,
                    Data = data,
                    Identity = identity,
                };
            default:
                throw new ChunkStoreException(ChunkStoreError.DiskFailed, $"write-ahead log record type {type} is unknown");
        }
    }
}
