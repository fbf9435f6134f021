using Gfs.Client.Protocol.Chunk;

namespace Gfs.Node.Chunkserver;

/// <summary>
/// What a chunkserver keeps in memory about one chunk it holds: the serial lock that orders its
/// mutations, the lease it holds as primary and the replica set of the last grant. None of it is
/// durable (docs/data-path.md, "Roles and state"); the record-append table is not here but in the
/// store, with the data (<see cref="Gfs.Storage.IChunkStore.FindAppend"/>), so it survives restarts
/// and this state. A state idle for <see cref="ChunkserverOptions.ChunkStateIdle"/> without a lease
/// is dropped (<see cref="ChunkTable.EvictIdle"/>) and made again when the chunk is next used.
/// </summary>
internal sealed class ReplicaState(long handle)
{
    private readonly Lock gate = new();

    private long lastUsedMs = Environment.TickCount64;
    private int waiting;

    public long Handle { get; } = handle;

    /// <summary>Set (under <see cref="Serial"/>) when the state left the table: whoever locks it afterwards must take the new one.</summary>
    public bool Retired { get; set; }

    /// <summary>When the state was last handed out (<see cref="Environment.TickCount64"/>, ms).</summary>
    public long LastUsedMs => Volatile.Read(ref lastUsedMs);

    public void Touch() => Volatile.Write(ref lastUsedMs, Environment.TickCount64);

    /// <summary>Held across one mutation and its forwarding, so secondaries see mutations in the primary's order.</summary>
    public SemaphoreSlim Serial { get; } = new(1, 1);

    /// <summary>Callers waiting for <see cref="Serial"/> now (not counting its holder).</summary>
    public int Waiting => Volatile.Read(ref waiting);

    /// <summary>Counts a caller in as waiting for <see cref="Serial"/>, unless <paramref name="limit"/> wait already.</summary>
    public bool TryStartWaiting(int limit)
    {
        if (Interlocked.Increment(ref waiting) <= limit)
        {
            return true;
        }

        Interlocked.Decrement(ref waiting);
        return false;
    }

    public void StopWaiting() => Interlocked.Decrement(ref waiting);

    /// <summary>Replicas of the last grant, the primary first.</summary>
    public List<ReplicaLocation> Replicas { get; set; } = [];

    /// <summary>The file's chunk size from the last grant; 0 when no grant was seen since start.</summary>
    public long ChunkSize { get; set; }

    /// <summary>The primary's serial number of the last mutation.</summary>
    public long LastSerial { get; set; }

    /// <summary>Secondaries that missed a mutation under the current grant: reported failed until the next grant.</summary>
    public HashSet<string> FailedSecondaries { get; } = new(StringComparer.Ordinal);

    public long LeaseVersion { get; private set; }

    /// <summary>Monotonic timestamp when the lease ends; 0 when none is held.</summary>
    public long LeaseExpiresAt { get; private set; }

    public long LeaseGrantedAt { get; private set; }

    public long LastMutationAt { get; private set; }

    public void GrantLease(long version, long grantedAt, long expiresAt)
    {
        lock (gate)
        {
            LeaseVersion = version;
            LeaseGrantedAt = grantedAt;
            LeaseExpiresAt = expiresAt;
        }
    }

    public void DropLease()
    {
        lock (gate)
        {
            LeaseVersion = 0;
            LeaseExpiresAt = 0;
        }
    }

    /// <summary>Drops the lease only when it was granted before <paramref name="before"/> (a newer grant stands).</summary>
    public void Revoke(long before)
    {
        lock (gate)
        {
            if (LeaseExpiresAt != 0 && LeaseGrantedAt < before)
            {
                LeaseVersion = 0;
                LeaseExpiresAt = 0;
            }
        }
    }

    /// <summary>Extends a lease still held for <paramref name="version"/> at <paramref name="sentAt"/> to <paramref name="expiresAt"/>.</summary>
    public bool Extend(long version, long sentAt, long expiresAt)
    {
        lock (gate)
        {
            if (LeaseExpiresAt == 0 || LeaseVersion != version || LeaseExpiresAt <= sentAt)
            {
                return false;
            }

            LeaseExpiresAt = Math.Max(LeaseExpiresAt, expiresAt);
            return true;
        }
    }

    /// <summary>The lease's version when it is live at <paramref name="now"/>, else 0.</summary>
    public long LiveLease(long now)
    {
        lock (gate)
        {
            return LeaseExpiresAt > now ? LeaseVersion : 0;
        }
    }

    public (long Version, long ExpiresAt, long LastMutationAt) Lease()
    {
        lock (gate)
        {
            return (LeaseVersion, LeaseExpiresAt, LastMutationAt);
        }
    }

    public void Mutated(long now)
    {
        lock (gate)
        {
            LastMutationAt = now;
        }
    }
}
