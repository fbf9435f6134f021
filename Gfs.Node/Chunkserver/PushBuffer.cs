using System.Buffers;
using System.IO.Hashing;
using Gfs.Client.Protocol;
using Gfs.Storage.Io;

namespace Gfs.Node.Chunkserver;

/// <summary>
/// Pushed data waiting for its mutation, keyed by data id. Bounded in bytes: a push that does not
/// fit waits for space until its deadline. Each entry is one pooled buffer that fills while the
/// push (or pull) arrives; downstream pulls stream from it while it fills. Entries untouched for
/// the time-to-live are dropped by <see cref="Sweep"/>, which the chunkserver's worker calls.
/// </summary>
internal sealed class PushBuffer : IDisposable
{
    private readonly Dictionary<string, PushEntry> entries = new(StringComparer.Ordinal);
    private readonly TimeProvider time;
    private long reserved;
    private TaskCompletionSource? spaceFreed;

    public PushBuffer(long capacityBytes, TimeSpan timeToLive, TimeProvider time, AlignedBufferPool? pool = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacityBytes);
        Capacity = capacityBytes;
        TimeToLive = timeToLive;
        this.time = time;
        Pool = pool ?? AlignedBufferPool.Shared;
    }

    /// <summary>Where entries take their aligned memory from and give it back to.</summary>
    internal AlignedBufferPool Pool { get; }

    public long Capacity { get; }

    public TimeSpan TimeToLive { get; }

    /// <summary>Bytes reserved by entries (filling, complete, or removed but still read by someone).</summary>
    public long BufferedBytes => Interlocked.Read(ref reserved);

    public int Count
    {
        get
        {
            lock (entries)
            {
                return entries.Count;
            }
        }
    }

    /// <summary>
    /// Reserves room for <paramref name="length"/> bytes under <paramref name="dataId"/> (replacing an
    /// older entry of that id) and returns the entry to fill. Waits for room until
    /// <paramref name="cancellationToken"/>; then Busy (the buffer is full for now: retry later, here).
    /// </summary>
    public async ValueTask<PushEntry> BeginAsync(string dataId, long length, CancellationToken cancellationToken)
    {
        if (length > Capacity || length > Array.MaxLength)
        {
            throw new GfsException(ErrorCode.PayloadTooLarge, $"a push of {length} bytes exceeds the push buffer of {Capacity} bytes");
        }

        while (true)
        {
            Task wait;
            PushEntry? replaced = null;
            lock (entries)
            {
                if (reserved + length <= Capacity)
                {
                    reserved += length;
                    var entry = new PushEntry(this, dataId, (int)length, time.GetTimestamp());
                    if (entries.Remove(dataId, out replaced))
                    {
                        replaced.Discard();
                    }

                    entries[dataId] = entry;
                    return entry;
                }

                wait = (spaceFreed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            try
            {
                await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw new GfsException(ErrorCode.Busy, $"the push buffer is full ({BufferedBytes} of {Capacity} bytes); data {dataId} was not accepted");
            }
        }
    }

    /// <summary>The complete, checksum-verified entry of <paramref name="dataId"/>, or null.</summary>
    public PushEntry? Find(string dataId)
    {
        lock (entries)
        {
            if (entries.TryGetValue(dataId, out var entry) && entry.IsComplete)
            {
                entry.Touch(time.GetTimestamp());
                return entry;
            }

            return null;
        }
    }

    /// <summary>The complete entry of <paramref name="dataId"/> with a reference taken (release it), or null.</summary>
    public PushEntry? Acquire(string dataId)
        => Find(dataId) is { } entry && entry.TryAcquire() ? entry : null;

    /// <summary>Drops every entry (at shutdown).</summary>
    public void Clear()
    {
        List<PushEntry> all;
        lock (entries)
        {
            all = [.. entries.Values];
            entries.Clear();
        }

        foreach (var entry in all)
        {
            entry.Discard();
        }
    }

    /// <summary>The entry of <paramref name="dataId"/> in whatever state it is (for pulls), or null.</summary>
    public PushEntry? FindAny(string dataId)
    {
        lock (entries)
        {
            return entries.TryGetValue(dataId, out var entry) ? entry : null;
        }
    }

    /// <summary>Drops <paramref name="dataId"/>; its memory returns to the pool once no reader holds it.</summary>
    public void Remove(string dataId)
    {
        PushEntry? entry;
        lock (entries)
        {
            entries.Remove(dataId, out entry);
        }

        entry?.Discard();
    }

    /// <summary>Drops <paramref name="entry"/> if it is still the one filed under its id.</summary>
    public void Remove(PushEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        lock (entries)
        {
            if (entries.TryGetValue(entry.DataId, out var current) && ReferenceEquals(current, entry))
            {
                entries.Remove(entry.DataId);
            }
        }

        entry.Discard();
    }

    /// <summary>Drops entries untouched for the time-to-live.</summary>
    public int Sweep()
    {
        var now = time.GetTimestamp();
        List<PushEntry> expired;
        lock (entries)
        {
            expired = entries.Values.Where(e => time.GetElapsedTime(e.LastTouched, now) >= TimeToLive).ToList();
            foreach (var entry in expired)
            {
                entries.Remove(entry.DataId);
            }
        }

        foreach (var entry in expired)
        {
            entry.Fail(new GfsException(ErrorCode.NotFound, $"data {entry.DataId} expired in the push buffer"));
            entry.Discard();
        }

        return expired.Count;
    }

    public void Dispose() => Clear();

    internal void Released(long length)
    {
        TaskCompletionSource? freed;
        lock (entries)
        {
            reserved -= length;
            freed = spaceFreed;
            spaceFreed = null;
        }

        freed?.TrySetResult();
    }
}

/// <summary>
/// One pushed piece of data: a pooled buffer that fills in order, then is checked against its
/// CRC32C. Readers take a reference (<see cref="TryAcquire"/>/<see cref="Release"/>) so that a
/// removal never frees memory under them. The buffer is 4096-aligned native memory, so the chunk
/// store writes it to disk with O_DIRECT straight from here, without a bounce copy.
/// </summary>
internal sealed class PushEntry
{
    private readonly PushBuffer owner;
    private readonly TaskCompletionSource completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private AlignedBuffer? buffer;
    private int references = 1; // the buffer's own, dropped by Discard
    private int discarded;
    private long filled;
    private long lastTouched;
    private TaskCompletionSource progress = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal PushEntry(PushBuffer owner, string dataId, int length, long now)
    {
        this.owner = owner;
        DataId = dataId;
        Length = length;
        buffer = length == 0 ? null : owner.Pool.Rent(length);
        lastTouched = now;
    }

    public string DataId { get; }

    public long Length { get; }

    /// <summary>Bytes received so far.</summary>
    public long Filled => Interlocked.Read(ref filled);

    public bool IsComplete => completion.Task.IsCompletedSuccessfully;

    /// <summary>Completes when the data is whole and its checksum matched; faults otherwise.</summary>
    public Task Completion => completion.Task;

    internal long LastTouched => Interlocked.Read(ref lastTouched);

    /// <summary>The data (hold a reference while using it). Only whole after <see cref="Completion"/>.</summary>
    public ReadOnlyMemory<byte> Data => Length == 0
        ? ReadOnlyMemory<byte>.Empty
        : (Volatile.Read(ref buffer) ?? throw new ObjectDisposedException(DataId)).Memory[..(int)Length];

    internal void Touch(long now) => Interlocked.Exchange(ref lastTouched, now);

    /// <summary>Appends received bytes (one writer at a time).</summary>
    public void Append(ReadOnlySequence<byte> data)
    {
        var at = Filled;
        if (data.Length > Length - at)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"data {DataId}: more than the declared {Length} bytes");
        }

        if (!data.IsEmpty)
        {
            data.CopyTo((Volatile.Read(ref buffer) ?? throw new ObjectDisposedException(DataId)).GetSpan()[(int)at..]);
        }

        Advance((int)data.Length);
    }

    /// <summary>
    /// The unfilled rest of the buffer, for a writer that receives into it directly (one writer at a
    /// time, holding a reference: <see cref="TryAcquire"/>); it reports what it wrote with <see cref="Advance"/>.
    /// </summary>
    public Memory<byte> GetFillMemory()
    {
        var at = (int)Filled;
        return Length == at
            ? Memory<byte>.Empty
            : (Volatile.Read(ref buffer) ?? throw new ObjectDisposedException(DataId)).Memory[at..(int)Length];
    }

    /// <summary>Records <paramref name="count"/> more bytes as received and wakes whoever waits for data.</summary>
    public void Advance(int count)
    {
        var at = Filled;
        if (count < 0 || count > Length - at)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"data {DataId}: more than the declared {Length} bytes");
        }

        Interlocked.Exchange(ref filled, at + count);
        Interlocked.Exchange(ref progress, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>Checks the whole data against <paramref name="crc32C"/>; ChecksumMismatch (and the entry fails) when it differs.</summary>
    public void Complete(uint crc32C)
    {
        if (Filled != Length)
        {
            var incomplete = new GfsException(ErrorCode.MalformedMessage, $"data {DataId}: {Filled} of {Length} bytes arrived");
            Fail(incomplete);
            throw incomplete;
        }

        var actual = Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, Data.Span);
        if (actual != crc32C)
        {
            var error = new GfsException(ErrorCode.ChecksumMismatch, $"data {DataId}: CRC32C {actual:x8}, the sender said {crc32C:x8}");
            Fail(error);
            throw error;
        }

        completion.TrySetResult();
        progress.TrySetResult();
    }

    public void Fail(Exception error)
    {
        completion.TrySetException(error);
        completion.Task.Exception?.Handle(_ => true); // observed by whoever waits; never unobserved
        progress.TrySetResult();
    }

    /// <summary>Waits until more than <paramref name="have"/> bytes arrived or the entry ended; returns the bytes available.</summary>
    public async ValueTask<long> WaitForDataAsync(long have, CancellationToken cancellationToken)
    {
        while (true)
        {
            var signal = Volatile.Read(ref progress).Task;
            var now = Filled;
            if (now > have || now == Length)
            {
                return now;
            }

            if (completion.Task.IsFaulted)
            {
                await completion.Task.ConfigureAwait(false); // rethrows the failure
            }

            await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Takes a reference to the buffer; false once the entry was discarded and freed.</summary>
    public bool TryAcquire()
    {
        while (true)
        {
            var current = Volatile.Read(ref references);
            if (current == 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref references, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref references) == 0)
        {
            // Exactly once: the count reaches zero once, and the exchange hands the memory to one caller.
            if (Interlocked.Exchange(ref buffer, null) is { } memory)
            {
                owner.Pool.Return(memory);
            }

            owner.Released(Length);
        }
    }

    /// <summary>Drops the buffer's own reference (once).</summary>
    internal void Discard()
    {
        if (Interlocked.Exchange(ref discarded, 1) == 0)
        {
            Fail(new GfsException(ErrorCode.NotFound, $"data {DataId} was dropped from the push buffer"));
            Release();
        }
    }
}
