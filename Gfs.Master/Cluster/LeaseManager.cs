using Gfs.Client.Protocol.Chunk;

namespace Gfs.Master.Cluster;

/// <summary>
/// The leader's leases (docs/data-path.md §Leases): allocation with placement, handing out a live
/// lease, re-granting to the same primary without failed replicas, and a new primary only once every
/// lease known for the chunk has expired on the monotonic clock. Decisions on one chunk are
/// serialised by a per-chunk async lock, so concurrent requests never raise a version twice.
/// Cleared when leadership is lost.
/// </summary>
public sealed partial class LeaseManager
{
    private readonly IMasterLog log;
    private readonly ChunkserverRegistry registry;
    private readonly IChunkserverChannel channel;
    private readonly TimeProvider time;
    private readonly Lock gate = new();
    private readonly Dictionary<long, ChunkLease> leases = [];
    private readonly Dictionary<long, List<FailureReport>> reportedFailures = [];
    private readonly Dictionary<long, ChunkLock> locks = [];
    private long leaderSince = long.MinValue;
    private long nextPrune = long.MinValue;

    public LeaseManager(IMasterLog log, ChunkserverRegistry registry, IChunkserverChannel channel, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(time);
        this.log = log;
        this.registry = registry;
        this.channel = channel;
        this.time = time;
        registry.Restarted += ForgetLeasesOf;
    }

    /// <summary>Chunks with failure reports kept at most; beyond it the oldest reports are dropped.</summary>
    public const int MaxReportedChunks = 10_000;

    /// <summary>
    /// A replica reported failed by a client counts against it for this long, and only for the version
    /// reported: a report is about one moment, and excluding a replica raises the version and makes its
    /// copy stale, so an old report must not shrink a later lease.
    /// </summary>
    public static readonly TimeSpan FailureReportLifetime = TimeSpan.FromSeconds(30);

    private DataPathOptions Options => registry.Options;

    /// <summary>A new leader does not pick a new primary until heartbeats have had time to report the leases primaries hold.</summary>
    public static readonly TimeSpan LeaderSettle = TimeSpan.FromSeconds(2);

    /// <summary>Forgets every lease and report; called when leadership is lost (and before it is taken).</summary>
    public void Clear()
    {
        lock (gate)
        {
            leases.Clear();
            reportedFailures.Clear();
            leaderSince = long.MinValue;
        }
    }

    /// <summary>Starts a leadership period: leases known from heartbeats are adopted as they come.</summary>
    public void BecameLeader()
    {
        lock (gate)
        {
            leases.Clear();
            reportedFailures.Clear();
            leaderSince = registry.Now;
        }
    }

    /// <summary>The lease the leader holds for a chunk, if any (expired ones included).</summary>
    public ChunkLease? Find(long handle)
    {
        lock (gate)
        {
            return leases.GetValueOrDefault(handle);
        }
    }

    /// <summary>True while a lease decision (version raise, grants) is in flight for the chunk.</summary>
    public bool IsBusy(long handle)
    {
        lock (gate)
        {
            return locks.ContainsKey(handle);
        }
    }

    /// <summary>How often <see cref="PruneEnded"/> looks at every known lease.</summary>
    public static readonly TimeSpan PruneEvery = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Forgets leases that ended more than a lease length ago, at most once per <see cref="PruneEvery"/>
    /// (called on heartbeats). Without it the leader kept one entry for every chunk ever leased in its
    /// term: a million small files, a million entries. A forgotten lease is as if unknown, which is
    /// safe once it has ended: its primary stopped mutating at its end (the master's view ends later).
    /// Returns how many were forgotten.
    /// </summary>
    public int PruneEnded()
    {
        var now = registry.Now;
        lock (gate)
        {
            if (now < nextPrune)
            {
                return 0;
            }

            nextPrune = now + registry.Ticks(PruneEvery);
            var cutoff = now - registry.Ticks(Options.LeaseLength);
            var ended = leases.Where(l => l.Value.ExpiresAt < cutoff && !locks.ContainsKey(l.Key)).Select(l => l.Key).ToList();
            foreach (var handle in ended)
            {
                leases.Remove(handle);
            }

            var reportCutoff = now - registry.Ticks(FailureReportLifetime);
            foreach (var handle in reportedFailures.Where(r => r.Value.TrueForAll(f => f.At < reportCutoff)).Select(r => r.Key).ToList())
            {
                reportedFailures.Remove(handle);
            }

            return ended.Count;
        }
    }

    /// <summary>How many leases the leader knows (live or ended but not yet forgotten).</summary>
    public int KnownCount
    {
        get
        {
            lock (gate)
            {
                return leases.Count;
            }
        }
    }

    /// <summary>
    /// A client could not reach, or was refused by, a replica of <paramref name="version"/>: it is left out
    /// of the chunk's next lease if that comes within <see cref="FailureReportLifetime"/> and is still
    /// about that version. At most <see cref="MaxReportedChunks"/> chunks keep reports.
    /// </summary>
    public void ReportFailure(long handle, long version, string serverId)
    {
        ArgumentNullException.ThrowIfNull(serverId);
        var now = registry.Now;
        lock (gate)
        {
            if (!reportedFailures.TryGetValue(handle, out var reports))
            {
                if (reportedFailures.Count >= MaxReportedChunks)
                {
                    DropOldestReports(now);
                }

                reports = [];
                reportedFailures.Add(handle, reports);
            }

            reports.RemoveAll(r => r.ServerId == serverId || r.Version != version);
            reports.Add(new FailureReport(serverId, version, now));
        }
    }

    /// <summary>How many chunks have failure reports kept.</summary>
    public int ReportedChunkCount
    {
        get
        {
            lock (gate)
            {
                return reportedFailures.Count;
            }
        }
    }

    /// <summary>Takes the chunk's reports that still count against <paramref name="version"/>. Call under <see cref="gate"/>.</summary>
    private IEnumerable<string> TakeReports(long handle, long version, long now)
    {
        if (!reportedFailures.Remove(handle, out var reports))
        {
            return [];
        }

        var cutoff = now - registry.Ticks(FailureReportLifetime);
        return reports.Where(r => r.Version == version && r.At >= cutoff).Select(r => r.ServerId);
    }

    /// <summary>Drops expired reports, and when none expired the oldest tenth. Call under <see cref="gate"/>.</summary>
    private void DropOldestReports(long now)
    {
        var cutoff = now - registry.Ticks(FailureReportLifetime);
        var expired = reportedFailures.Where(r => r.Value.TrueForAll(f => f.At < cutoff)).Select(r => r.Key).ToList();
        if (expired.Count == 0)
        {
            expired = [.. reportedFailures.OrderBy(r => r.Value.Max(f => f.At)).Take(Math.Max(1, reportedFailures.Count / 10)).Select(r => r.Key)];
        }

        foreach (var handle in expired)
        {
            reportedFailures.Remove(handle);
        }
    }

    /// <summary>
    /// The server restarted: the leases it held died with its memory, so none of them holds back a new
    /// primary (its chunks are leased afresh at once).
    /// </summary>
    public void ForgetLeasesOf(string serverId)
    {
        lock (gate)
        {
            foreach (var handle in leases.Where(l => l.Value.PrimaryId == serverId && !locks.ContainsKey(l.Key)).Select(l => l.Key).ToList())
            {
                leases.Remove(handle);
            }
        }
    }

    private readonly record struct FailureReport(string ServerId, long Version, long At);

    /// <summary>
    /// The leases a primary reported in a heartbeat, at the leader: extends those it knows (same
    /// primary and version) that want it, adopts those it did not know when their version is current
    /// and nothing conflicts, and revokes the others.
    /// </summary>
    /// <param name="serverId">The reporting primary.</param>
    /// <param name="held">Its leases.</param>
    /// <param name="currentVersion">The chunk versions in the state, in the order of <paramref name="held"/> (0: unknown chunk).</param>
    /// <param name="receivedAt">When the heartbeat arrived (monotonic).</param>
    /// <param name="reply">Gets the extensions and revocations.</param>
    public void OnHeartbeat(string serverId, IReadOnlyList<HeldLease> held, long[] currentVersion, long receivedAt, HeartbeatReply reply)
    {
        ArgumentNullException.ThrowIfNull(held);
        ArgumentNullException.ThrowIfNull(currentVersion);
        ArgumentNullException.ThrowIfNull(reply);
        var leaseMs = (long)Options.LeaseLength.TotalMilliseconds;
        var extended = receivedAt + registry.Ticks(Options.LeaseLength + Options.LeaseGrace);
        lock (gate)
        {
            for (var i = 0; i < held.Count; i++)
            {
                var h = held[i];
                var current = currentVersion[i];
                var known = leases.GetValueOrDefault(h.Handle);
                if (known is not null && known.PrimaryId == serverId && known.Version == h.Version)
                {
                    // Also confirms a lease whose Grant outcome was unknown.
                    var reported = receivedAt + registry.Ticks(TimeSpan.FromMilliseconds(Math.Max(0, h.RemainingMs)) + Options.LeaseGrace);
                    var expires = Math.Max(known.ExpiresAt, h.WantsExtension ? extended : reported);
                    leases[h.Handle] = known with { ExpiresAt = expires, Confirmed = true };
                    if (h.WantsExtension)
                    {
                        reply.Extensions.Add(new LeaseExtension { Handle = h.Handle, Version = h.Version, LeaseMs = leaseMs });
                    }

                    continue;
                }

                if (locks.ContainsKey(h.Handle) || (known is not null && known.PrimaryId == serverId && known.Version > h.Version))
                {
                    continue; // a grant in flight or done replaces this lease on the server itself
                }

                var conflicting = known is not null && known.Version >= h.Version && known.PrimaryId != serverId;
                if (current == 0 || h.Version != current || conflicting)
                {
                    reply.Revoked.Add(h.Handle);
                    continue;
                }

                // A lease granted by an earlier leader: adopt it.
                var replicas = WithPrimaryFirst(serverId, registry.Locations(h.Handle, current, null, out _));
                var members = GrantMembers(h.Handle, current, replicas);
                var adoptedEnd = h.WantsExtension ? extended : receivedAt + registry.Ticks(TimeSpan.FromMilliseconds(Math.Max(0, h.RemainingMs)) + Options.LeaseGrace);
                leases[h.Handle] = new ChunkLease(h.Handle, current, serverId, replicas, adoptedEnd, Confirmed: true, members);
                if (h.WantsExtension)
                {
                    reply.Extensions.Add(new LeaseExtension { Handle = h.Handle, Version = h.Version, LeaseMs = leaseMs });
                }
            }
        }
    }

    /// <summary>
    /// The servers an adopted lease's primary forwards to: the version's recorded grant, or (for a state
    /// without it) the replicas known to hold the version.
    /// </summary>
    private string[] GrantMembers(long handle, long version, List<ReplicaLocation> replicas)
        => log.Read(s => s.GrantOf(handle)) is { } grant && grant.Version == version
            ? [.. grant.Servers]
            : [.. replicas.Select(r => r.ServerId)];

    private List<ReplicaLocation> WithPrimaryFirst(string primaryId, List<ReplicaLocation> replicas)
    {
        var primary = replicas.Find(r => r.ServerId == primaryId) ?? registry.Find(primaryId) ?? new ReplicaLocation { ServerId = primaryId };
        return [primary, .. replicas.Where(r => r.ServerId != primaryId)];
    }

    private async Task<IDisposable> LockAsync(long handle, CancellationToken cancellationToken)
    {
        ChunkLock chunkLock;
        lock (gate)
        {
            if (!locks.TryGetValue(handle, out chunkLock!))
            {
                chunkLock = new ChunkLock();
                locks.Add(handle, chunkLock);
            }

            chunkLock.Users++;
        }

        try
        {
            await chunkLock.Semaphore.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Release(handle, chunkLock, held: false);
            throw;
        }

        return new Releaser(this, handle, chunkLock);
    }

    private void Release(long handle, ChunkLock chunkLock, bool held)
    {
        lock (gate)
        {
            if (held)
            {
                chunkLock.Semaphore.Release();
            }

            if (--chunkLock.Users == 0)
            {
                locks.Remove(handle);
                chunkLock.Semaphore.Dispose();
            }
        }
    }

    private sealed class ChunkLock
    {
        public SemaphoreSlim Semaphore { get; } = new(1, 1);

        public int Users { get; set; }
    }

    private sealed class Releaser(LeaseManager owner, long handle, ChunkLock chunkLock) : IDisposable
    {
        private int released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                owner.Release(handle, chunkLock, held: true);
            }
        }
    }
}
