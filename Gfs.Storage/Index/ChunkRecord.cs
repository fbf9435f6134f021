using System.Buffers.Binary;

namespace Gfs.Storage.Index;

/// <summary>
/// What the index keeps per chunk. Immutable: a mutation publishes a new record.
/// Serialised form (little endian): format u16 (1), flags u16, block count u32, version i64,
/// length i64, then one CRC32C u32 per block. New per-chunk fields go after the checksums
/// under a new format number; readers accept every format they know.
/// </summary>
internal sealed class ChunkRecord(long version, long length, uint[] checksums)
{
    public const ushort Format = 1;
    public const int FixedSize = 24;

    public long Version { get; } = version;

    public long Length { get; } = length;

    /// <summary>One CRC32C per 64 KiB block; the last covers only the bytes written.</summary>
    public uint[] Checksums { get; } = checksums;

    public static readonly ChunkRecord Empty = new(0, 0, []);

    public static int BlockCount(long length) => (int)((length + ChunkStoreOptions.BlockSize - 1) / ChunkStoreOptions.BlockSize);

    public static int SerializedSize(int maxBlocks) => FixedSize + (4 * maxBlocks);

    public void Write(Span<byte> destination)
    {
        destination.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(destination, Format);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], Checksums.Length);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], Version);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], Length);
        for (var i = 0; i < Checksums.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(destination[(FixedSize + (4 * i))..], Checksums[i]);
        }
    }

    public static ChunkRecord Read(ReadOnlySpan<byte> source)
    {
        var format = BinaryPrimitives.ReadUInt16LittleEndian(source);
        if (format != Format)
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

        return new ChunkRecord(version, length, crcs);
    }
}
