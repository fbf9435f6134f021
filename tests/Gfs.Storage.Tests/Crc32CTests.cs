using System.IO.Hashing;
using Gfs.Storage.Checksums;

namespace Gfs.Storage.Tests;

public sealed class Crc32CTests
{
    [Fact]
    public void KnownVector_MatchesTheStandard()
    {
        // The CRC32C check value of "123456789".
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(767)]
    [InlineData(768)]
    [InlineData(24575)]
    [InlineData(24576)]
    [InlineData(65535)]
    [InlineData(65536)]
    [InlineData(200_001)]
    public void Compute_AndAppend_MatchSystemIoHashing(int length)
    {
        var data = StoreHarness.Bytes(length, length);
        var expected = Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data);
        Assert.Equal(expected, Crc32C.Compute(data));
        var split = length / 3;
        Assert.Equal(expected, Crc32C.Append(Crc32C.Compute(data.AsSpan(0, split)), data.AsSpan(split)));
    }
}
