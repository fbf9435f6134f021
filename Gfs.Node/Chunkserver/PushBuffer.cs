using Gfs.Client.Protocol;

namespace Gfs.Node.Chunkserver;

/// <summary>
/// The bounded push buffer: data id → pushed bytes, at most <see cref="Capacity"/> bytes reserved
/// at once (a push waits for room up to its deadline), unused data dropped after the TTL.
/// </summary>
internal sealed class PushBuffer(long capacity, int segmentBytes, TimeSpan ttl, TimeProvider time)
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, BufferedData> entries = new(StringComparer.Ordinal);
    private TaskCompletionSource released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long reserved;

    public long Capacity => capacity;

    /// <summary>Bytes reserved by pushes in progress and held data.</summary>
    public long ReservedBytes => Interlocked.Read(ref reserved);

    public int Count
    {
        get
        {
            lock (gate)
            {
                return entries.Count;
            }
        }
    }

    /// <summary>
    /// Reserves room for <paramref name="length"/> bytes and returns the (empty) data that owns the
    /// reservation. Waits up to <paramref name="wait"/> for room, then fails with Unavailable.
    /// </summary>
    public async Task<BufferedData> ReserveAsync(long length, TimeSpan wait, CancellationToken cancellationToken)
    {
        if (length > capacity)
        {
            throw new GfsException(ErrorCode.Unavailable, $"a push of {length} bytes is larger than the whole push buffer ({capacity} bytes)");
        }

        var start = time.GetTimestamp();
        while (true)
        {
            Task signal;
            lock (gate)
            {
                if (reserved + length <= capacity)
                {
                    reserved += length;
                    return new BufferedData(this, length, segmentBytes, time.GetTimestamp());
                }

                signal = released.Task;
            }

            var left = wait - time.GetElapsedTime(start);
            if (left <= TimeSpan.Zero)
            {
                throw new GfsException(ErrorCode.Unavailable, $"the push buffer is full ({ReservedBytes} of {capacity} bytes reserved); retry later");
            }

            try
            {
                await signal.WaitAsync(left, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Checked again at the top of the loop.
            }
        }
    }

    /// <summary>Makes complete data available under its id, replacing (and releasing) older data of the same id.</summary>
    public void Publish(string dataId, BufferedData data)
    {
        data.TouchedAt = time.GetTimestamp();
        BufferedData? old;
        lock (gate)
        {
            entries.Remove(dataId, out old);
            entries[dataId] = data;
        }

        old?.Release();
    }

    /// <summary>The data with a reference the caller must release, or null when it is absent or expired.</summary>
    public BufferedData? Acquire(string dataId)
    {
        lock (gate)
        {
            if (entries.TryGetValue(dataId, out var data) && data.TryAddReference())
            {
                data.TouchedAt = time.GetTimestamp();
                return data;
            }

            return null;
        }
    }

    /// <summary>Drops the data of <paramref name="dataId"/> if it is still <paramref name="data"/>.</summary>
    public void Remove(string dataId, BufferedData data)
    {
        lock (gate)
        {
            if (!entries.TryGetValue(dataId, out var current) || !ReferenceEquals(current, data))
            {
                return;
            }

            entries.Remove(dataId);
        }

        data.Release();
    }

    /// <summary>Drops data unused for longer than the TTL; returns how many.</summary>
    public int Sweep()
    {
        var now = time.GetTimestamp();
        List<BufferedData> expired = [];
        lock (gate)
        {
            foreach (var (id, data) in entries.ToList())
            {
                if (time.GetElapsedTime(data.TouchedAt, now) >= ttl)
                {
                    entries.Remove(id);
                    expired.Add(data);
                }
            }
        }

        foreach (var data in expired)
        {
            data.Release();
        }

        return expired.Count;
    }

    /// <summary>Drops everything (shutdown).</summary>
    public void Clear()
    {
        List<BufferedData> all;
        lock (gate)
        {
            all = [.. entries.Values];
            entries.Clear();
        }

        all.ForEach(d => d.Release());
    }

    internal void Unreserve(long length)
    {
        TaskCompletionSource wake;
        lock (gate)
        {
            reserved -= length;
            wake = released;
            released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        wake.TrySetResult();
    }
}
