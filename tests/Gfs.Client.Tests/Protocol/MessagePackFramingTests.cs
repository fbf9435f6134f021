using System.Buffers;
using Gfs.Client.Protocol;
using MessagePack;

namespace Gfs.Client.Tests.Protocol;

public sealed class MessagePackFramingTests
{
    public static TheoryData<object?> Values =>
    [
        true, 0, 127, -32, 255, 65_535, int.MaxValue, long.MinValue, ulong.MaxValue, 1.5f, 2.5d,
        "", "short", new string('s', 40), new string('m', 300), new string('l', 70_000),
        new byte[] { 1, 2, 3 }, new byte[300], new byte[70_000],
        new object?[] { 1, "two", null, new object[] { 3.0, new byte[] { 4 } } },
        new Dictionary<string, object?> { ["a"] = 1, ["b"] = new object[] { "x", new Dictionary<int, int> { [1] = 2 } } },
        Enumerable.Range(0, 20).Cast<object>().ToArray(),
        Enumerable.Range(0, 70_000).Cast<object>().ToArray(),
        DateTime.UnixEpoch,
    ];

    [Theory]
    [MemberData(nameof(Values))]
    public void Measure_WholeValue_ReturnsItsExactLength(object? value)
    {
        var bytes = MessagePackSerializer.Serialize(value, MessagePack.Resolvers.ContractlessStandardResolver.Options);

        var status = MessagePackFraming.Measure(new ReadOnlySequence<byte>([.. bytes, 0xc0, 0xc0]), 64, bytes.Length + 2, out var length);

        Assert.Equal(FramingStatus.Complete, status);
        Assert.Equal(bytes.Length, length);
    }

    [Theory]
    [MemberData(nameof(Values))]
    public void Measure_EveryPrefix_NeedsMoreData(object? value)
    {
        var bytes = MessagePackSerializer.Serialize(value, MessagePack.Resolvers.ContractlessStandardResolver.Options);
        var step = Math.Max(1, bytes.Length / 50);

        for (var cut = 0; cut < bytes.Length; cut += step)
        {
            Assert.Equal(FramingStatus.NeedMoreData, MessagePackFraming.Measure(new ReadOnlySequence<byte>(bytes, 0, cut), 64, bytes.Length, out _));
        }
    }

    [Fact]
    public void Measure_AcrossSegments_GivesTheSameAnswer()
    {
        var bytes = MessagePackSerializer.Serialize(new object[] { "abc", new byte[1000], 70_000, new object[] { 1, 2 } });
        var sequence = Segmented(bytes, 7);

        Assert.Equal(FramingStatus.Complete, MessagePackFraming.Measure(sequence, 64, bytes.Length, out var length));
        Assert.Equal(bytes.Length, length);
    }

    [Fact]
    public void Measure_DeepNesting_IsTooDeep_WithoutRecursion()
    {
        var deep = Enumerable.Repeat((byte)0x91, 100_000).Append((byte)0xc0).ToArray();

        Assert.Equal(FramingStatus.TooDeep, MessagePackFraming.Measure(new ReadOnlySequence<byte>(deep), 64, deep.Length, out _));
        Assert.Equal(FramingStatus.Complete, MessagePackFraming.Measure(new ReadOnlySequence<byte>(deep[^65..]), 64, 65, out _));
    }

    [Theory]
    [InlineData(new byte[] { 0xdf, 0x00, 0x98, 0x96, 0x80 })] // map32 with 10^7 entries
    [InlineData(new byte[] { 0xdd, 0xff, 0xff, 0xff, 0xff })] // array32 with 2^32-1 elements
    [InlineData(new byte[] { 0xc6, 0x7f, 0xff, 0xff, 0xff })] // bin32 of 2 GiB
    [InlineData(new byte[] { 0xdb, 0x00, 0x10, 0x00, 0x00 })] // str32 of 1 MiB
    public void Measure_DeclaringMoreThanTheLimit_IsTooLarge(byte[] header)
    {
        Assert.Equal(FramingStatus.TooLarge, MessagePackFraming.Measure(new ReadOnlySequence<byte>(header), 64, 1024, out _));
    }

    [Fact]
    public void Measure_NeverUsedByte_IsInvalid()
    {
        Assert.Equal(FramingStatus.Invalid, MessagePackFraming.Measure(new ReadOnlySequence<byte>([0x92, 0x01, 0xc1]), 64, 3, out _));
    }

    private static ReadOnlySequence<byte> Segmented(byte[] bytes, int size)
    {
        Segment? first = null;
        Segment? last = null;
        for (var i = 0; i < bytes.Length; i += size)
        {
            var segment = new Segment(bytes.AsMemory(i, Math.Min(size, bytes.Length - i)), last);
            first ??= segment;
            last = segment;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }
}
