using System.Buffers.Binary;
using System.IO.Hashing;

namespace Gfs.Master.State;

/// <summary>
/// Snapshot file format, little-endian:
/// <c>"GFSMSNAP" u32:version body "GFSMEND!" u64:xxhash3(everything before the end marker)</c>.
/// The body is described in docs/master.md; version 1 (no grants) is still read. A reader refuses unknown versions and
/// checksum mismatches.
/// </summary>
internal static class SnapshotFormat
{
    /// <summary>The version written: chunks carry their grant (version 2).</summary>
    public const uint Version = 2;

    /// <summary>The previous version, still read: chunks without grants.</summary>
    public const uint VersionWithoutGrants = 1;

    public static ReadOnlySpan<byte> Magic => "GFSMSNAP"u8;

    public static ReadOnlySpan<byte> EndMagic => "GFSMEND!"u8;

    /// <summary>Buffered little-endian writer that hashes everything it writes.</summary>
    internal sealed class Writer(Stream destination)
    {
        private readonly byte[] buffer = new byte[256 * 1024];
        private readonly XxHash3 hash = new();
        private int used;

        public long Length { get; private set; }

        private Span<byte> Reserve(int size)
        {
            if (buffer.Length - used < size)
            {
                Flush();
            }

            var span = buffer.AsSpan(used, size);
            used += size;
            Length += size;
            return span;
        }

        public void U8(byte value) => Reserve(1)[0] = value;

        public void U16(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Reserve(2), value);

        public void I32(int value) => BinaryPrimitives.WriteInt32LittleEndian(Reserve(4), value);

        public void U32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Reserve(4), value);

        public void I64(long value) => BinaryPrimitives.WriteInt64LittleEndian(Reserve(8), value);

        public void Bytes(ReadOnlySpan<byte> value)
        {
            while (!value.IsEmpty)
            {
                if (used == buffer.Length)
                {
                    Flush();
                }

                var n = Math.Min(value.Length, buffer.Length - used);
                value[..n].CopyTo(buffer.AsSpan(used));
                used += n;
                Length += n;
                value = value[n..];
            }
        }

        public void Flush()
        {
            hash.Append(buffer.AsSpan(0, used));
            destination.Write(buffer, 0, used);
            used = 0;
        }

        /// <summary>Writes the end marker and the checksum; returns the checksum.</summary>
        public ulong Finish()
        {
            Flush();
            var checksum = hash.GetCurrentHashAsUInt64();
            Span<byte> trailer = stackalloc byte[16];
            EndMagic.CopyTo(trailer);
            BinaryPrimitives.WriteUInt64LittleEndian(trailer[8..], checksum);
            destination.Write(trailer);
            Length += 16;
            destination.Flush();
            return checksum;
        }
    }

    /// <summary>Buffered little-endian reader that hashes everything it reads.</summary>
    internal sealed class Reader(Stream source)
    {
        private readonly byte[] buffer = new byte[256 * 1024];
        private readonly XxHash3 hash = new();
        private int start;
        private int end;

        private ReadOnlySpan<byte> Take(int size)
        {
            if (end - start < size)
            {
                Fill(size);
            }

            var span = buffer.AsSpan(start, size);
            hash.Append(span);
            start += size;
            return span;
        }

        private void Fill(int size)
        {
            var remaining = end - start;
            Array.Copy(buffer, start, buffer, 0, remaining);
            start = 0;
            end = remaining;
            while (end < size)
            {
                var n = source.Read(buffer, end, buffer.Length - end);
                if (n == 0)
                {
                    throw new InvalidDataException("snapshot is truncated");
                }

                end += n;
            }
        }

        public byte U8() => Take(1)[0];

        public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

        public int I32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

        public long I64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        public int Count(int max)
        {
            var n = I32();
            return n >= 0 && n <= max ? n : throw new InvalidDataException($"snapshot count {n} is out of range");
        }

        public ReadOnlySpan<byte> Bytes(int length)
            => length <= buffer.Length ? Take(length) : throw new InvalidDataException("snapshot field is too long");

        /// <summary>Reads the end marker and checks the checksum.</summary>
        public void Finish()
        {
            var expected = hash.GetCurrentHashAsUInt64();
            if (end - start < 16)
            {
                Fill(16);
            }

            var trailer = buffer.AsSpan(start, 16);
            if (!trailer[..8].SequenceEqual(EndMagic))
            {
                throw new InvalidDataException("snapshot end marker is missing");
            }

            if (BinaryPrimitives.ReadUInt64LittleEndian(trailer[8..]) != expected)
            {
                throw new InvalidDataException("snapshot checksum does not match");
            }
        }
    }
}
