using System.Collections.Concurrent;
using Gfs.Client.Protocol;

namespace Gfs.Client.Data;

/// <summary>
/// Reports files' acknowledged ends to the master (<c>master/SetLength</c>) in the background: at
/// most one call in flight per path, and the latest end wins, so a burst of appends costs a few
/// master round trips, none of them on an append's critical path. A failed call is retried with the
/// client's backoff until it succeeds or the error is permanent (the file is gone or replaced, the
/// request is refused); only <see cref="Stop"/> ends the retries otherwise.
/// </summary>
internal sealed class LengthReporter(IDataPath data, GfsClientOptions options)
{
    private readonly ConcurrentDictionary<(string Path, long FileId), PathState> paths = new();
    private readonly CancellationTokenSource stopping = new();

    /// <summary>The last background failure, if any (the next successful report supersedes it).</summary>
    public Exception? LastError { get; private set; }

    /// <summary>
    /// Asks for the length of file <paramref name="fileId"/> at <paramref name="path"/> to be raised to
    /// at least <paramref name="end"/> (refused for good when the path names another file by then).
    /// </summary>
    public void Report(string path, long fileId, long end) => Update((path, fileId), state =>
    {
        if (end > state.Wanted)
        {
            state.Wanted = end;
            state.Running ??= RunAsync(path, fileId, state);
        }
    });

    /// <summary>Records that <paramref name="end"/> was reported by someone else (a writer's own flush).</summary>
    public void Reported(string path, long fileId, long end) => Update((path, fileId), state =>
    {
        state.Sent = Math.Max(state.Sent, end);
        state.Wanted = Math.Max(state.Wanted, end);
    });

    /// <summary>Runs <paramref name="change"/> under the lock of the path's current state (a state swept meanwhile is skipped for the new one).</summary>
    private void Update((string Path, long FileId) key, Action<PathState> change)
    {
        while (true)
        {
            var state = paths.GetOrAdd(key, static _ => new PathState());
            lock (state)
            {
                if (!state.Removed)
                {
                    change(state);
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Forgets paths with nothing to send and no report running (their ends were all sent), so a
    /// long-running client does not keep one entry per file it ever wrote. Returns how many were forgotten.
    /// </summary>
    public int Sweep()
    {
        var dropped = 0;
        foreach (var (key, state) in paths)
        {
            lock (state)
            {
                if (state.Running is not null || state.Wanted > state.Sent)
                {
                    continue;
                }

                // Removed under the state's lock: a Report that took this state sees Removed and takes the new one.
                state.Removed = true;
                paths.TryRemove(new KeyValuePair<(string Path, long FileId), PathState>(key, state));
                dropped++;
            }
        }

        return dropped;
    }

    /// <summary>How many paths are tracked.</summary>
    public int Count => paths.Count;

    /// <summary>
    /// Waits until every report asked for so far has been sent or has failed for good, for at most
    /// <see cref="GfsClientOptions.OperationTimeout"/>. Returns false when reports were still being
    /// retried at the bound (they go on until <see cref="Stop"/>).
    /// </summary>
    public async Task<bool> DrainAsync()
    {
        var time = options.Time;
        var started = time.GetTimestamp();
        while (true)
        {
            var running = paths.Values.Select(s => { lock (s) { return s.Running; } }).OfType<Task>().ToList();
            if (running.Count == 0)
            {
                return true;
            }

            var left = options.OperationTimeout - time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            try
            {
                await Task.WhenAll(running).WaitAsync(left, time).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return false;
            }
        }
    }

    /// <summary>Ends every report still being retried (the client is being disposed).</summary>
    public void Stop() => stopping.Cancel();

    /// <summary>Whether retrying a failed report cannot help: the file is gone or replaced, or the master refuses the request.</summary>
    private static bool IsPermanent(Exception error)
        => error is GfsException e && !Retry.IsTransientMasterError(e);

    private async Task RunAsync(string path, long fileId, PathState state)
    {
        await Task.Yield();
        var backoff = new Backoff(options.InitialRetryDelay, options.MaxRetryDelay);
        while (true)
        {
            long target;
            lock (state)
            {
                if (state.Wanted <= state.Sent || stopping.IsCancellationRequested)
                {
                    state.Running = null;
                    return;
                }

                target = state.Wanted;
            }

            try
            {
                await data.SetLengthAsync(path, fileId, target, stopping.Token).ConfigureAwait(false);
                LastError = null;
                backoff = new Backoff(options.InitialRetryDelay, options.MaxRetryDelay);
                lock (state)
                {
                    state.Sent = Math.Max(state.Sent, target);
                }
            }
            catch (Exception e) when (!stopping.IsCancellationRequested)
            {
                LastError = e;
                if (IsPermanent(e))
                {
                    // Nothing to send to any more: this file's length is no longer this client's to raise.
                    lock (state)
                    {
                        state.Sent = Math.Max(state.Sent, state.Wanted);
                    }

                    continue;
                }

                try
                {
                    await Task.Delay(backoff.Next(), options.Time, stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Stopped: the loop ends at its next check.
                }
            }
            catch (Exception e)
            {
                LastError = e; // stopped while the call ran; the loop ends at its next check
            }
        }
    }

    private sealed class PathState
    {
        public long Wanted;
        public long Sent;
        public Task? Running;
        public bool Removed;
    }
}
