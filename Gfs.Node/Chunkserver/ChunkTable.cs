using System.Collections.Concurrent;

namespace Gfs.Node.Chunkserver;

/// <summary>
/// The in-memory state of every chunk this server holds (<see cref="ReplicaState"/>) and the change
/// stamps that make incremental chunk reports: every change of a chunk's version, length or
/// existence gets the next stamp, and each master is sent the chunks stamped after the last
/// heartbeat it acknowledged.
/// </summary>
internal sealed class ChunkTable(int appendTableSize)
{
    private readonly ConcurrentDictionary<long, ReplicaState> states = new();
    private readonly ConcurrentDictionary<long, long> changes = new();
    private long stamp;

    public long CurrentStamp => Interlocked.Read(ref stamp);

    public ReplicaState Get(long handle) => states.GetOrAdd(handle, h => new ReplicaState(h, appendTableSize));

    public ReplicaState? Find(long handle) => states.TryGetValue(handle, out var state) ? state : null;

    public IEnumerable<ReplicaState> All => states.Values;

    public void Forget(long handle) => states.TryRemove(handle, out _);

    public void MarkChanged(long handle) => changes[handle] = Interlocked.Increment(ref stamp);

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
