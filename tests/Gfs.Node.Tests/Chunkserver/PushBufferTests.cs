using System.IO.Hashing;
using Gfs.Client.Protocol;
using Gfs.Node.Chunkserver;
using Gfs.Storage.Io;

namespace Gfs.Node.Tests.Chunkserver;

/// <summary>The push buffer's bounds, expiry and reader references (the pipelined push itself: DataPathTests).</summary>
public sealed class PushBufferTests
{
    private const int MiB = 1 << 20;

    [Fact]
    public async Task A_full_buffer_refuses_a_push_when_its_deadline_passes_and_space_returns_on_remove()
    {
        var ct = TestContext.Current.CancellationToken;
        using var buffer = new PushBuffer(2 * MiB, TimeSpan.FromMinutes(1), TimeProvider.System);
        var first = await buffer.BeginAsync("a", 2 * MiB, ct);
        using (var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(200)))
        {
            var full = await Assert.ThrowsAsync<GfsException>(async () => await buffer.BeginAsync("b", MiB, deadline.Token));
            Assert.Equal(ErrorCode.Busy, full.Code);
        }

        var waiting = buffer.BeginAsync("c", MiB, ct).AsTask();
        Assert.False(waiting.IsCompleted);
        buffer.Remove(first);
        var second = await waiting.WaitAsync(TimeSpan.FromSeconds(5), ct);
        Assert.Equal(MiB, buffer.BufferedBytes);
        Assert.Equal("c", second.DataId);
    }

    [Fact]
    public async Task Expired_data_is_dropped_but_memory_stays_valid_for_a_reader_holding_it()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var buffer = new PushBuffer(4 * MiB, TimeSpan.FromSeconds(60), time);
        var entry = await buffer.BeginAsync("x", 10, TestContext.Current.CancellationToken);
        var bytes = RandomBytes(10);
        entry.Append(new System.Buffers.ReadOnlySequence<byte>(bytes));
        entry.Complete(Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, bytes));
        Assert.True(entry.TryAcquire());

        time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(1, buffer.Sweep());
        Assert.Null(buffer.Find("x"));
        Assert.True(entry.Data.Span.SequenceEqual(bytes)); // still held
        Assert.Equal(10, buffer.BufferedBytes);

        entry.Release();
        Assert.Equal(0, buffer.BufferedBytes);
        Assert.False(entry.TryAcquire());
    }

    [Fact]
    public async Task Entries_hold_4096_aligned_memory_that_returns_to_the_pool_exactly_once()
    {
        var ct = TestContext.Current.CancellationToken;
        var pool = new AlignedBufferPool(64 * MiB);
        using var buffer = new PushBuffer(16 * MiB, TimeSpan.FromMinutes(1), TimeProvider.System, pool);
        var entry = await buffer.BeginAsync("a", 3 * MiB + 5, ct);
        var bytes = RandomBytes(3 * MiB + 5);
        entry.Append(new System.Buffers.ReadOnlySequence<byte>(bytes.AsMemory(0, MiB)));
        entry.Append(new System.Buffers.ReadOnlySequence<byte>(bytes.AsMemory(MiB)));
        entry.Complete(Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, bytes));
        Assert.True(entry.Data.Span.SequenceEqual(bytes));
        unsafe
        {
            using var pin = entry.Data.Pin();
            Assert.Equal(0, (nint)pin.Pointer % AlignedBufferPool.Alignment);
        }

        // A reader (the store's write) holds it across the removal; the memory goes back when the reader is done.
        Assert.True(entry.TryAcquire());
        buffer.Remove(entry);
        buffer.Remove(entry);
        Assert.Equal(0, pool.RetainedBytes);
        Assert.True(entry.Data.Span.SequenceEqual(bytes));
        entry.Release();
        Assert.Equal(4 * MiB, pool.RetainedBytes); // the power-of-two bucket of 3 MiB + 5
        Assert.Throws<ObjectDisposedException>(() => entry.Data);
        Assert.False(entry.TryAcquire());

        // Discard after the last release, a sweep or a clear must not give it back a second time.
        buffer.Remove(entry);
        buffer.Clear();
        Assert.Equal(4 * MiB, pool.RetainedBytes);

        // The next entry of that size reuses it.
        var next = await buffer.BeginAsync("b", 3 * MiB, ct);
        Assert.Equal(0, pool.RetainedBytes);
        buffer.Remove(next);
        Assert.Equal(4 * MiB, pool.RetainedBytes);
    }

    [Fact]
    public async Task An_empty_push_needs_no_memory()
    {
        var pool = new AlignedBufferPool(64 * MiB);
        using var buffer = new PushBuffer(MiB, TimeSpan.FromMinutes(1), TimeProvider.System, pool);
        var entry = await buffer.BeginAsync("e", 0, TestContext.Current.CancellationToken);
        entry.Append(System.Buffers.ReadOnlySequence<byte>.Empty);
        entry.Complete(Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, []));
        Assert.True(entry.IsComplete);
        Assert.Equal(0, entry.Data.Length);
        buffer.Remove(entry);
        Assert.Equal(0, pool.RetainedBytes);
        Assert.Equal(0, buffer.BufferedBytes);
    }

    private static byte[] RandomBytes(int length)
    {
        var data = new byte[length];
        Random.Shared.NextBytes(data);
        return data;
    }
}
