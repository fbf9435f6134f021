using System.Buffers.Binary;
using Gfs.Storage.Chunks;

namespace Gfs.Storage.Index;

/// <summary>
/// What the index keeps per chunk. Immutable: a mutation publishes a new record.
/// Serialised form (little endian): format u16, flags u16, block count u32, version i64, length i64, then one
/// CRC32C u32 per block, zero-padded to the store's maximum block count. Format 1 ends there; format 2 (a chunk
/// with record-append identities) goes on with the append table: entry count u32, then per entry client id i64,
/// sequence i64, offset i64, oldest first. Readers accept every format they know.
/// </summary>
internal sealed class ChunkRecord(long version, long length, uint[] checksums)
{
    /// <summary>A record without append identities: the layout of stores from before they existed.</summary>
    public const ushort Format = 1;

    /// <summary>A record followed by its chunk's append table.</summary>
    public const ushort FormatWithAppends = 2;

    public const int FixedSize = 24;

    public long Version { get; } = version;

    public long Length { get; } = length;

    /// <summary>One CRC32C per 64 KiB block; the last covers only the bytes written.</summary>
    public uint[] Checksums { get; } = checksums;

    public static readonly ChunkRecord Empty = new(0, 0, []);

    public static int BlockCount(long length) => (int)((length + ChunkStoreOptions.BlockSize - 1) / ChunkStoreOptions.BlockSize);

    /// <summary>Size of a format 1 record (the fixed part of every record) in a store of <paramref name="maxBlocks"/> blocks per chunk.</summary>
    public static int SerializedSize(int maxBlocks) => FixedSize + (4 * maxBlocks);

    /// <summary>Largest record: format 2 with a full append table.</summary>
    public static int MaxSerializedSize(int maxBlocks) => SerializedSize(maxBlocks) + 4 + (AppendTable.EntrySize * ChunkStoreOptions.AppendsPerChunk);

    /// <summary>Writes the record, with <paramref name="appends"/> when it holds any (format 2); returns the bytes written.</summary>
    public int Write(Span<byte> destination, int maxBlocks, AppendTable? appends)
    {
        var size = SerializedSize(maxBlocks);
        destination[..size].Clear();
        var withAppends = appends is { Count: > 0 };
        BinaryPrimitives.WriteUInt16LittleEndian(destination, withAppends ? FormatWithAppends : Format);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], Checksums.Length);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], Version);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], Length);
        for (var i = 0; i < Checksums.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(destination[(FixedSize + (4 * i))..], Checksums[i]);
        }

        return withAppends ? size + appends!.Write(destination[size..]) : size;
    }

    /// <summary>Reads a record of any known format; <paramref name="appends"/> is its append table (null for format 1).</summary>
    public static ChunkRecord Read(ReadOnlySpan<byte> source, int maxBlocks, out AppendTable? appends)
    {
        var format = BinaryPrimitives.ReadUInt16LittleEndian(source);
        if (format is not (Format or FormatWithAppends))
        {
            throw new ChunkStoreException(ChunkStoreError.DiskFailed, $"index record format {format} is unknown");
        }

        var count = BinaryPrimitives.ReadInt32LittleEndian(source[4..]);
        var version = BinaryPrimitives.ReadInt64LittleEndian(source[8..]);
        var length = BinaryPrimitives.ReadInt64LittleEndian(source[16..]);
        if (count != BlockCount(length) || FixedSize + (4 * count) > source.Length)
        {
            throw new ChunkStoreException(ChunkStoreError.DiskFailed, "index record is inconsistent");
        }

        var crcs = new uint[count];
        for (var i = 0; i < count; i++)
        {
            crcs[i] = BinaryPrimitives.ReadUInt32LittleEndian(source[(FixedSize + (4 * i))..]);
        }

        appends = null;
        if (format == FormatWithAppends)
        {
            var at = SerializedSize(maxBlocks);
            if (source.Length < at + 4)
            {
                throw new ChunkStoreException(ChunkStoreError.DiskFailed, "index record is shorter than its append table");
            }

            appends = AppendTable.Read(source[at..]);
        }

        return new ChunkRecord(version, length, crcs);
    }
}
