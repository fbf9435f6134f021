using System.Collections.Concurrent;
using System.Numerics;

namespace Gfs.Storage.Io;

/// <summary>
/// A small pool of <see cref="AlignedBuffer"/>s in power-of-two sizes from 4 KiB to 64 MiB (larger requests are
/// allocated exactly and freed on return). Large native allocations are mmap'd by the C library, so without a
/// pool every 8 MiB piece would pay for 2048 fresh page faults. At most <see cref="MaxRetainedBytes"/> are kept.
/// </summary>
public sealed class AlignedBufferPool
{
    /// <summary>Alignment of every buffer, and the unit of an O_DIRECT write: 4096 (never guessed smaller).</summary>
    public const int Alignment = 4096;

    private const int MinShift = 12;
    private const int MaxShift = 26;

    private readonly ConcurrentStack<AlignedBuffer>[] buckets;
    private long retained;

    public AlignedBufferPool(long maxRetainedBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetainedBytes);
        MaxRetainedBytes = maxRetainedBytes;
        buckets = new ConcurrentStack<AlignedBuffer>[MaxShift - MinShift + 1];
        for (var i = 0; i < buckets.Length; i++)
        {
            buckets[i] = new ConcurrentStack<AlignedBuffer>();
        }
    }

    /// <summary>The process's pool (push buffers, bounce buffers of direct writes).</summary>
    public static AlignedBufferPool Shared { get; } = new(256L * 1024 * 1024);

    public long MaxRetainedBytes { get; }

    /// <summary>Bytes held by the pool, free for the next <see cref="Rent"/>.</summary>
    public long RetainedBytes => Interlocked.Read(ref retained);

    /// <summary>A buffer of at least <paramref name="minimumLength"/> bytes (its capacity is a multiple of 4096).</summary>
    public AlignedBuffer Rent(int minimumLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minimumLength);
        var bucket = BucketOf(minimumLength);
        if (bucket < 0)
        {
            return new AlignedBuffer(RoundUp(minimumLength));
        }

        if (buckets[bucket].TryPop(out var buffer))
        {
            Interlocked.Add(ref retained, -buffer.Capacity);
            return buffer;
        }

        return new AlignedBuffer(1 << (bucket + MinShift));
    }

    /// <summary>Gives <paramref name="buffer"/> back (the caller must not touch it afterwards): kept for reuse or freed.</summary>
    public void Return(AlignedBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (buffer.IsFreed)
        {
            return;
        }

        var bucket = BucketOf(buffer.Capacity);
        if (bucket >= 0 && 1 << (bucket + MinShift) == buffer.Capacity && Interlocked.Add(ref retained, buffer.Capacity) <= MaxRetainedBytes)
        {
            buckets[bucket].Push(buffer);
            return;
        }

        if (bucket >= 0 && 1 << (bucket + MinShift) == buffer.Capacity)
        {
            Interlocked.Add(ref retained, -buffer.Capacity);
        }

        buffer.Free();
    }

    /// <summary>Frees every retained buffer.</summary>
    public void Trim()
    {
        foreach (var stack in buckets)
        {
            while (stack.TryPop(out var buffer))
            {
                Interlocked.Add(ref retained, -buffer.Capacity);
                buffer.Free();
            }
        }
    }

    private static int BucketOf(int length)
    {
        var shift = length <= 1 << MinShift ? MinShift : 32 - BitOperations.LeadingZeroCount((uint)length - 1);
        return shift > MaxShift ? -1 : shift - MinShift;
    }

    private static int RoundUp(int length) => (int)Math.Min(int.MaxValue & ~(Alignment - 1), ((long)Math.Max(length, 1) + Alignment - 1) & ~(long)(Alignment - 1));
}
