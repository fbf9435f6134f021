using Gfs.Client.Transport.Http2;

namespace Gfs.Client.Tests.Transport.Http2;

public sealed class FrameHeaderTests
{
    [Fact]
    public void Read_ParsesTheNineBytes_AndIgnoresTheReservedBit()
    {
        byte[] bytes = [0x12, 0x34, 0x56, 0x01, 0x25, 0x80, 0x00, 0x00, 0x05];

        var header = FrameHeader.Read(bytes);

        Assert.Equal(0x123456, header.Length);
        Assert.Equal(FrameType.Headers, header.Type);
        Assert.True(header.HasFlag(FrameFlags.EndStream));
        Assert.True(header.HasFlag(FrameFlags.EndHeaders));
        Assert.True(header.HasFlag(FrameFlags.Priority));
        Assert.False(header.HasFlag(FrameFlags.Padded));
        Assert.Equal(5, header.StreamId);
    }

    [Theory]
    [InlineData(0, (byte)FrameType.Settings, FrameFlags.Ack, 0)]
    [InlineData(FrameHeader.MaxMaxFrameSize, (byte)FrameType.Data, FrameFlags.EndStream, int.MaxValue)]
    [InlineData(1 << 20, (byte)FrameType.Data, FrameFlags.None, 1)]
    public void Write_ThenRead_RoundTrips(int length, byte frameType, byte flags, int streamId)
    {
        var type = (FrameType)frameType;
        var bytes = new byte[FrameHeader.Size];

        FrameHeader.Write(bytes, length, type, flags, streamId);

        Assert.Equal(new FrameHeader(length, type, flags, streamId), FrameHeader.Read(bytes));
    }

    [Fact]
    public void UnknownTypes_ParseAsTheirNumber()
        => Assert.Equal((FrameType)0xee, FrameHeader.Read([0, 0, 0, 0xee, 0, 0, 0, 0, 0]).Type);
}
