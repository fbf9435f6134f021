namespace Gfs.Storage;

public sealed partial class ChunkStore
{
    private readonly Lock scrubberLock = new();
    private CancellationTokenSource? scrubberStop;
    private Task? scrubber;

    /// <summary>Completed scrubber passes (for tests and metrics).</summary>
    public long ScrubberPasses => Interlocked.Read(ref scrubberPasses);

    private long scrubberPasses;

    /// <summary>Bytes the scrubber has read and verified, counted as each window is read (for tests and metrics).</summary>
    public long ScrubbedBytes => Interlocked.Read(ref scrubbedBytes);

    private long scrubbedBytes;

    /// <summary>Chunks a scrubber pass left alone because they were mutated within the idle time (for tests and metrics).</summary>
    public long ScrubSkippedBusy => Interlocked.Read(ref scrubSkippedBusy);

    private long scrubSkippedBusy;

    /// <inheritdoc />
    public void StartScrubber()
    {
        ThrowIfClosed();
        lock (scrubberLock)
        {
            if (scrubber is not null)
            {
                return;
            }

            scrubberStop = new CancellationTokenSource();
            var token = scrubberStop.Token;
            scrubber = Task.Run(() => ScrubLoopAsync(token), CancellationToken.None);
        }
    }

    /// <inheritdoc />
    public async Task StopScrubberAsync()
    {
        Task? task;
        CancellationTokenSource? stop;
        lock (scrubberLock)
        {
            task = scrubber;
            stop = scrubberStop;
            scrubber = null;
            scrubberStop = null;
        }

        if (task is null)
        {
            return;
        }

        await stop!.CancelAsync().ConfigureAwait(false);
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            stop.Dispose();
        }
    }

    private async Task ScrubLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await ScrubPassAsync(cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref scrubberPasses);
            await Task.Delay(options.ScrubberPassInterval, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One pass over the idle chunks, reading at no more than the configured bandwidth.</summary>
    internal async Task ScrubPassAsync(CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        long bytes = 0;
        async ValueTask Throttle(ReadOnlyMemory<byte> segment, CancellationToken ct)
        {
            bytes += segment.Length;
            Interlocked.Add(ref scrubbedBytes, segment.Length);
            var due = TimeSpan.FromSeconds((double)bytes / options.ScrubberBandwidth);
            var elapsed = time.GetElapsedTime(started);
            if (due > elapsed)
            {
                await Task.Delay(due - elapsed, time, ct).ConfigureAwait(false);
            }
        }

        foreach (var info in ListChunks())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (closed || !chunks.TryGetValue(info.Handle, out var state) || !state.Exists)
            {
                continue;
            }

            if (state.Corrupt)
            {
                // Found at start (missing or short file) before anyone subscribed: report it once.
                if (!state.CorruptReported)
                {
                    ReportCorrupt(state, null, state.CorruptReason ?? "flagged corrupt at start");
                }

                continue;
            }

            if (time.GetElapsedTime(Volatile.Read(ref state.LastMutation)) < options.ScrubberIdleTime)
            {
                Interlocked.Increment(ref scrubSkippedBusy);
                continue;
            }

            try
            {
                await VerifyStateAsync(state, Throttle, cancellationToken).ConfigureAwait(false);
            }
            catch (ChunkStoreException)
            {
                // Deleted or closed meanwhile.
            }
        }
    }
}
