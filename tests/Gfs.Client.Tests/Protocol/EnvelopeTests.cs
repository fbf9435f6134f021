using System.Buffers;
using Gfs.Client.Protocol;
using MessagePack;

namespace Gfs.Client.Tests.Protocol;

public sealed class EnvelopeTests
{
    [Fact]
    public void Reply_RoundTrips_ThePayload()
    {
        var buffer = new ArrayBufferWriter<byte>();
        Envelope.WriteReply(buffer, new Probe { Name = "x", Size = 7 });

        var probe = Envelope.ReadReply<Probe>(new ReadOnlySequence<byte>(buffer.WrittenMemory));

        Assert.Equal("x", probe.Name);
        Assert.Equal(7, probe.Size);
    }

    [Theory]
    [InlineData(ErrorCode.NotFound, null)]
    [InlineData(ErrorCode.NotLeader, "https://m2:9000")]
    [InlineData(ErrorCode.NoSpace, null)]
    public void Error_IsThrownWithItsCodeMessageAndLeader(ErrorCode code, string? leader)
    {
        var buffer = new ArrayBufferWriter<byte>();
        Envelope.WriteError(buffer, code, "what went wrong", leader);

        var e = Assert.Throws<GfsException>(() => Envelope.ReadReply<Probe>(new ReadOnlySequence<byte>(buffer.WrittenMemory)));

        Assert.Equal(code, e.Code);
        Assert.Equal("what went wrong", e.Message);
        Assert.Equal(leader, e.LeaderUrl);
    }

    [Fact]
    public void DownloadPrefix_IsFoundOnlyWhenComplete()
    {
        var buffer = new ArrayBufferWriter<byte>();
        Envelope.WriteDownloadPrefix(buffer, new Probe { Name = "chunk", Size = 3 }, 123_456_789);
        var bytes = buffer.WrittenMemory.ToArray();

        for (var cut = 0; cut < bytes.Length; cut++)
        {
            Assert.False(Envelope.TryReadDownloadPrefix<Probe>(new ReadOnlySequence<byte>(bytes, 0, cut), 1024, out _, out _, out _));
        }

        Assert.True(Envelope.TryReadDownloadPrefix<Probe>(new ReadOnlySequence<byte>([.. bytes, 1, 2, 3]), 1024, out var header, out var length, out var consumed));
        Assert.Equal("chunk", header.Name);
        Assert.Equal(123_456_789, length);
        Assert.Equal(bytes.Length, consumed);
    }

    [Fact]
    public void DownloadPrefix_OfAnErrorEnvelope_ThrowsTheError()
    {
        var buffer = new ArrayBufferWriter<byte>();
        Envelope.WriteError(buffer, ErrorCode.ChecksumMismatch, "block 3 is corrupt");

        var e = Assert.Throws<GfsException>(() => Envelope.TryReadDownloadPrefix<Probe>(new ReadOnlySequence<byte>(buffer.WrittenMemory), 1024, out _, out _, out _));

        Assert.Equal(ErrorCode.ChecksumMismatch, e.Code);
    }

    [Fact]
    public void Reply_WithWrongElementCount_IsMalformed()
    {
        var bytes = MessagePackSerializer.Serialize(new object[] { 0, "x" });

        var e = Assert.Throws<GfsException>(() => Envelope.ReadReply<Probe>(new ReadOnlySequence<byte>(bytes)));

        Assert.Equal(ErrorCode.MalformedMessage, e.Code);
    }

    [MessagePackObject]
    public sealed class Probe
    {
        [Key(0)]
        public string Name { get; set; } = "";

        [Key(1)]
        public int Size { get; set; }
    }
}
