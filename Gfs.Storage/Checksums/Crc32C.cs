using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Gfs.Storage.Checksums;

/// <summary>
/// CRC32C (Castagnoli), the checksum of every 64 KiB block. On x64 it runs the SSE4.2 crc32 instruction on three
/// interleaved streams joined with precomputed shift tables (after Mark Adler's crc32c.c), compiled fully optimised
/// from the first call: about 14 GB/s on 64 KiB blocks here, on par with System.IO.Hashing 11 once that has tiered
/// up, and it can continue a stored CRC (needed when an append extends a partial block). Elsewhere it falls back to
/// System.IO.Hashing.
/// </summary>
internal static class Crc32C
{
    private const uint Poly = 0x82F63B78;
    private const int Long = 8192;
    private const int Short = 256;

    private static readonly uint[] LongShift = ZerosTable(Long);
    private static readonly uint[] ShortShift = ZerosTable(Short);

    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>The CRC32C of (bytes whose CRC32C is <paramref name="crc"/>) followed by <paramref name="data"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        if (!Sse42.X64.IsSupported)
        {
            return crc == 0 ? Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data) : AppendSoftware(crc, data);
        }

        ulong c0 = ~crc;
        ref var p = ref MemoryMarshal.GetReference(data);
        var left = data.Length;
        while (left >= Long * 3)
        {
            c0 = Interleave(c0, ref p, Long, LongShift);
            p = ref Unsafe.Add(ref p, Long * 3);
            left -= Long * 3;
        }

        while (left >= Short * 3)
        {
            c0 = Interleave(c0, ref p, Short, ShortShift);
            p = ref Unsafe.Add(ref p, Short * 3);
            left -= Short * 3;
        }

        while (left >= 8)
        {
            c0 = Sse42.X64.Crc32(c0, Unsafe.ReadUnaligned<ulong>(ref p));
            p = ref Unsafe.Add(ref p, 8);
            left -= 8;
        }

        var c = (uint)c0;
        while (left > 0)
        {
            c = Sse42.Crc32(c, p);
            p = ref Unsafe.Add(ref p, 1);
            left--;
        }

        return ~c;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ulong Interleave(ulong c0, ref byte p, int length, uint[] shift)
    {
        ulong c1 = 0, c2 = 0;
        ref var q = ref Unsafe.Add(ref p, length);
        ref var r = ref Unsafe.Add(ref p, length * 2);
        for (var i = 0; i < length; i += 8)
        {
            c0 = Sse42.X64.Crc32(c0, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i)));
            c1 = Sse42.X64.Crc32(c1, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref q, i)));
            c2 = Sse42.X64.Crc32(c2, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref r, i)));
        }

        c0 = Shift(shift, (uint)c0) ^ c1;
        return Shift(shift, (uint)c0) ^ c2;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Shift(uint[] t, uint crc) =>
        t[crc & 0xFF] ^ t[256 + ((crc >> 8) & 0xFF)] ^ t[512 + ((crc >> 16) & 0xFF)] ^ t[768 + (crc >> 24)];

    private static uint AppendSoftware(uint crc, ReadOnlySpan<byte> data)
    {
        var c = ~crc;
        foreach (var b in data)
        {
            c ^= b;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? Poly ^ (c >> 1) : c >> 1;
            }
        }

        return ~c;
    }

    // The operator that appends `length` zero bytes to a CRC register (length a power of two), as 4 x 256 tables.
    private static uint[] ZerosTable(int length)
    {
        var op = ZerosOperator(length);
        var table = new uint[1024];
        for (uint n = 0; n < 256; n++)
        {
            table[n] = Times(op, n);
            table[256 + n] = Times(op, n << 8);
            table[512 + n] = Times(op, n << 16);
            table[768 + n] = Times(op, n << 24);
        }

        return table;
    }

    private static uint[] ZerosOperator(int length)
    {
        var odd = new uint[32];
        var even = new uint[32];
        odd[0] = Poly;
        uint row = 1;
        for (var n = 1; n < 32; n++)
        {
            odd[n] = row;
            row <<= 1;
        }

        Square(even, odd); // 2 zero bits
        Square(odd, even); // 4 zero bits
        do
        {
            Square(even, odd);
            length >>= 1;
            if (length == 0)
            {
                return even;
            }

            Square(odd, even);
            length >>= 1;
        }
        while (length != 0);

        return odd;
    }

    private static uint Times(uint[] matrix, uint vector)
    {
        uint sum = 0;
        for (var i = 0; vector != 0; i++, vector >>= 1)
        {
            if ((vector & 1) != 0)
            {
                sum ^= matrix[i];
            }
        }

        return sum;
    }

    private static void Square(uint[] square, uint[] matrix)
    {
        for (var n = 0; n < 32; n++)
        {
            square[n] = Times(matrix, matrix[n]);
        }
    }
}
