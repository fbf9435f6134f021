using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Gfs.Storage.Checksums;

/// <summary>CRC32C (Castagnoli) of a block, and continuation of a block's CRC when bytes are appended to it.</summary>
internal static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data) => Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data);

    /// <summary>The CRC32C of (bytes whose CRC32C is <paramref name="crc"/>) followed by <paramref name="data"/>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        if (Sse42.X64.IsSupported)
        {
            ulong state = ~crc;
            var words = MemoryMarshal.Cast<byte, ulong>(data);
            foreach (var w in words)
            {
                state = Sse42.X64.Crc32(state, w);
            }

            var s = (uint)state;
            foreach (var b in data[(words.Length * 8)..])
            {
                s = Sse42.Crc32(s, b);
            }

            return ~s;
        }

        var c = ~crc;
        foreach (var b in data)
        {
            c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        }

        return ~c;
    }

    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            var c = i;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
            }

            table[i] = c;
        }

        return table;
    }
}
