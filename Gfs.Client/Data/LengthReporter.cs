using System.Collections.Concurrent;

namespace Gfs.Client.Data;

/// <summary>
/// Reports files' acknowledged ends to the master (<c>master/SetLength</c>) in the background: at
/// most one call in flight per path, and the latest end wins, so a burst of appends costs a few
/// master round trips, none of them on an append's critical path.
/// </summary>
internal sealed class LengthReporter(IDataPath data)
{
    private readonly ConcurrentDictionary<string, PathState> paths = new(StringComparer.Ordinal);

    /// <summary>The last background failure, if any (the next successful report supersedes it).</summary>
    public Exception? LastError { get; private set; }

    /// <summary>Asks for <paramref name="path"/>'s length to be raised to at least <paramref name="end"/>.</summary>
    public void Report(string path, long end) => Update(path, state =>
    {
        if (end > state.Wanted)
        {
            state.Wanted = end;
            state.Running ??= RunAsync(path, state);
        }
    });

    /// <summary>Records that <paramref name="end"/> was reported by someone else (a writer's own flush).</summary>
    public void Reported(string path, long end) => Update(path, state =>
    {
        state.Sent = Math.Max(state.Sent, end);
        state.Wanted = Math.Max(state.Wanted, end);
    });

    /// <summary>Runs <paramref name="change"/> under the lock of the path's current state (a state swept meanwhile is skipped for the new one).</summary>
    private void Update(string path, Action<PathState> change)
    {
        while (true)
        {
            var state = paths.GetOrAdd(path, static _ => new PathState());
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
        foreach (var (path, state) in paths)
        {
            lock (state)
            {
                if (state.Running is not null || state.Wanted > state.Sent)
                {
                    continue;
                }

                // Removed under the state's lock: a Report that took this state sees Removed and takes the new one.
                state.Removed = true;
                paths.TryRemove(new KeyValuePair<string, PathState>(path, state));
                dropped++;
            }
        }

        return dropped;
    }

    /// <summary>How many paths are tracked.</summary>
    public int Count => paths.Count;

    /// <summary>Waits until every report asked for so far has been sent (or failed).</summary>
    public async Task DrainAsync()
    {
        while (true)
        {
            var running = paths.Values.Select(s => { lock (s) { return s.Running; } }).OfType<Task>().ToList();
            if (running.Count == 0)
            {
                return;
            }

            await Task.WhenAll(running).ConfigureAwait(false);
        }
    }

    private async Task RunAsync(string path, PathState state)
    {
        await Task.Yield();
        while (true)
        {
            long target;
            lock (state)
            {
                if (state.Wanted <= state.Sent)
                {
                    state.Running = null;
                    return;
                }

                target = state.Wanted;
            }

            try
            {
                await data.SetLengthAsync(path, target, CancellationToken.None).ConfigureAwait(false);
                LastError = null;
            }
            catch (Exception e)
            {
                // Not data loss: readers also ask the last chunk's replicas for its length. A later report retries.
                LastError = e;
            }

            lock (state)
            {
                state.Sent = Math.Max(state.Sent, target);
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
