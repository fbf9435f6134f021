using System.Collections.Concurrent;

namespace Gfs.Node.Chunkserver;

/// <summary>
/// The in-memory state of every chunk this server holds (<see cref="ReplicaState"/>) and the change
/// stamps that make incremental chunk reports: every change of a chunk's version, length or
/// existence gets the next stamp, and each master is sent the chunks stamped after the last
/// heartbeat it acknowledged.
/// </summary>
internal sealed class ChunkTable
{
    private readonly ConcurrentDictionary<long, ReplicaState> states = new();
    private readonly ConcurrentDictionary<long, long> changes = new();
    private readonly Lock leasedGate = new();
    private readonly Dictionary<long, ReplicaState> leased = [];
    private long stamp;

    public long CurrentStamp => Interlocked.Read(ref stamp);

    /// <summary>The chunk's state, made when missing. Callers that mutate take it through <see cref="LockAsync"/>.</summary>
    public ReplicaState Get(long handle)
    {
        var state = states.GetOrAdd(handle, static h => new ReplicaState(h));
        state.Touch();
        return state;
    }

    /// <summary>
    /// The chunk's state with its <see cref="ReplicaState.Serial"/> lock held. A state evicted while
    /// the caller waited is released and the current one taken instead, so one chunk never has two
    /// serial locks in use. When <paramref name="maxWaiting"/> callers wait for the lock already, the
    /// caller is refused at once (null) instead of queueing behind them.
    /// </summary>
    public async Task<ReplicaState?> TryLockAsync(long handle, int maxWaiting, CancellationToken cancellationToken)
    {
        while (true)
        {
            var state = Get(handle);
            if (!state.Serial.Wait(0, CancellationToken.None))
            {
                if (!state.TryStartWaiting(maxWaiting))
                {
                    return null;
                }

                try
                {
                    await state.Serial.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    state.StopWaiting();
                }
            }

            if (!state.Retired)
            {
                state.Touch();
                return state;
            }

            state.Serial.Release();
        }
    }

    /// <summary>The chunk's state with its <see cref="ReplicaState.Serial"/> lock held, however many wait for it (see <see cref="TryLockAsync"/>).</summary>
    public async Task<ReplicaState> LockAsync(long handle, CancellationToken cancellationToken)
        => (await TryLockAsync(handle, int.MaxValue, cancellationToken).ConfigureAwait(false))!;

    /// <summary>
    /// Drops the states of chunks not used for <paramref name="idleMs"/> that hold no live lease at
    /// <paramref name="leaseNow"/> and whose serial lock is free: their in-memory state (the last
    /// grant) is no longer needed, since a mutation needs a new grant first (the append table is kept
    /// by the store). Returns how many were dropped.
    /// </summary>
    public int EvictIdle(long idleMs, long leaseNow)
    {
        var now = Environment.TickCount64;
        var dropped = 0;
        foreach (var (handle, state) in states)
        {
            if (now - state.LastUsedMs < idleMs || state.LiveLease(leaseNow) != 0 || !state.Serial.Wait(0))
            {
                continue;
            }

            try
            {
                // Checked again under the lock: a grant (the only way to a lease) holds it too.
                if (now - state.LastUsedMs >= idleMs && state.LiveLease(leaseNow) == 0
                    && states.TryRemove(new KeyValuePair<long, ReplicaState>(handle, state)))
                {
                    state.Retired = true;
                    dropped++;
                }
            }
            finally
            {
                state.Serial.Release();
            }
        }

        return dropped;
    }

    /// <summary>How many chunk states are in memory.</summary>
    public int Count => states.Count;

    public ReplicaState? Find(long handle) => states.TryGetValue(handle, out var state) ? state : null;

    public IEnumerable<ReplicaState> All => states.Values;

    /// <summary>
    /// Takes <paramref name="state"/> out of the table for good (its chunk was deleted). Call with its
    /// <see cref="ReplicaState.Serial"/> held: whoever waits for that lock gets the chunk's next state.
    /// </summary>
    public void Retire(ReplicaState state)
    {
        state.Retired = true;
        states.TryRemove(new KeyValuePair<long, ReplicaState>(state.Handle, state));
        lock (leasedGate)
        {
            if (leased.TryGetValue(state.Handle, out var listed) && ReferenceEquals(listed, state))
            {
                leased.Remove(state.Handle);
            }
        }
    }

    /// <summary>Gives <paramref name="state"/> a lease and lists it among the leased chunks (call instead of <see cref="ReplicaState.GrantLease"/>).</summary>
    public void GrantLease(ReplicaState state, long version, long grantedAt, long expiresAt)
    {
        lock (leasedGate)
        {
            state.GrantLease(version, grantedAt, expiresAt);
            leased[state.Handle] = state;
        }
    }

    /// <summary>
    /// The chunks holding a live lease at <paramref name="now"/>, with the lease: what heartbeats
    /// report. Only chunks granted a lease are looked at (not every chunk held), and the ones whose
    /// lease ended (expired, dropped or revoked) leave the list here.
    /// </summary>
    public List<(ReplicaState State, long Version, long ExpiresAt, long LastMutationAt)> LiveLeases(long now)
    {
        var live = new List<(ReplicaState, long, long, long)>();
        lock (leasedGate)
        {
            List<long>? ended = null;
            foreach (var (handle, state) in leased)
            {
                var (version, expiresAt, lastMutation) = state.Lease();
                if (version != 0 && expiresAt > now)
                {
                    live.Add((state, version, expiresAt, lastMutation));
                }
                else
                {
                    (ended ??= []).Add(handle);
                }
            }

            foreach (var handle in ended ?? [])
            {
                leased.Remove(handle);
            }
        }

        return live;
    }

    /// <summary>How many chunks are listed as leased (live or not yet pruned), for tests.</summary>
    internal int LeasedCount
    {
        get
        {
            lock (leasedGate)
            {
                return leased.Count;
            }
        }
    }

    public void MarkChanged(long handle) => changes[handle] = Interlocked.Increment(ref stamp);

    /// <summary>How many chunk changes are kept for incremental reports.</summary>
    public int PendingChanges => changes.Count;

    /// <summary>Handles changed after <paramref name="since"/>.</summary>
    public List<long> ChangedSince(long since) => [.. changes.Where(c => c.Value > since).Select(c => c.Key)];

    /// <summary>Forgets changes every master has acknowledged (stamp at most <paramref name="upTo"/>).</summary>
    public void Prune(long upTo)
    {
        foreach (var change in changes)
        {
            if (change.Value <= upTo)
            {
                changes.TryRemove(change);
            }
        }
    }
}
