using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Protocol.Master;
using Gfs.Master.State;

namespace Gfs.Master.Cluster;

/// <summary>
/// The master's side of the data path (docs/data-path.md): heartbeats on every replica, and on the
/// leader lease extensions, adoption and revocation, orders, chunk lookups and replica reports.
/// The leader gives orders and touches leases only after one read barrier in its term, so its state
/// holds every committed version.
/// </summary>
public sealed class ChunkCoordinator
{
    /// <summary>Chunks per GetChunks reply when the caller gives no count.</summary>
    public const int DefaultChunkPage = 1000;

    /// <summary>Most chunks per GetChunks reply.</summary>
    public const int MaxChunkPage = 10_000;

    private readonly IMasterLog log;
    private readonly Lock gate = new();
    private long leaderTerm = -1;
    private long barrierTerm = -1;
    private bool barrierRunning;

    public ChunkCoordinator(IMasterLog log, ChunkserverRegistry registry, LeaseManager leases)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(leases);
        this.log = log;
        Registry = registry;
        Leases = leases;
    }

    public ChunkserverRegistry Registry { get; }

    public LeaseManager Leases { get; }

    /// <summary>Call on every leader change: a replica that stops leading forgets its leases at once.</summary>
    public void OnLeadershipChanged() => _ = LeaderReady();

    /// <summary>True when this replica leads and has passed a read barrier in its current term; starts that barrier when needed.</summary>
    public bool LeaderReady()
    {
        lock (gate)
        {
            if (!log.IsLeader)
            {
                if (leaderTerm != -1)
                {
                    Leases.Clear();
                    leaderTerm = -1;
                    barrierTerm = -1;
                }

                return false;
            }

            var term = log.Term;
            if (leaderTerm != term)
            {
                Leases.BecameLeader();
                leaderTerm = term;
                barrierTerm = -1;
            }

            if (barrierTerm == term)
            {
                return true;
            }

            if (!barrierRunning)
            {
                barrierRunning = true;
                _ = Task.Run(() => BarrierAsync(term), CancellationToken.None);
            }

            return false;
        }
    }

    private async Task BarrierAsync(long term)
    {
        var passed = false;
        try
        {
            await log.ReadBarrierAsync(CancellationToken.None).ConfigureAwait(false);
            passed = true;
        }
        catch (Exception e) when (e is Gfs.Consensus.NotLeaderException or OperationCanceledException or TimeoutException)
        {
            // Not (or no longer) leading: the next heartbeat tries again.
        }

        lock (gate)
        {
            barrierRunning = false;
            if (passed && leaderTerm == term && log.Term == term)
            {
                barrierTerm = term;
            }
        }
    }

    /// <summary><c>master/Heartbeat</c>: every replica records the server; the leader adds extensions, revocations and orders.</summary>
    public HeartbeatReply Heartbeat(HeartbeatRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var receivedAt = Registry.Now;
        var reply = new HeartbeatReply { SendFullReport = Registry.Record(request) };
        if (!LeaderReady())
        {
            reply.IsLeader = log.IsLeader;
            return reply;
        }

        reply.IsLeader = true;
        reply.Term = log.Term;
        Leases.PruneEnded();
        if (request.Leases.Count > 0)
        {
            var versions = log.Read(s => request.Leases.Select(l => VersionOf(s, l.Handle)).ToArray());
            Leases.OnHeartbeat(request.ServerId, request.Leases, versions, receivedAt, reply);
        }

        reply.Orders = Registry.Orders(
            request.ServerId,
            handles => log.Read(s => (handles.Select(h => VersionOf(s, h)).ToArray(), s.NextChunkHandle)),
            Leases.IsBusy,
            out var scanned);
        reply.Scanned = scanned;
        return reply;
    }

    private static long VersionOf(MasterState state, long handle) => state.TryGetChunk(handle, out var c) ? c.Version : 0;

    /// <summary><c>master/GetChunks</c>: after a read barrier, the file's attributes and its chunks' up-to-date replicas.</summary>
    public async Task<GetChunksReply> GetChunksAsync(GetChunksRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.FirstIndex < 0)
        {
            throw new GfsException(ErrorCode.InvalidArgument, "the first chunk index cannot be negative");
        }

        var count = request.Count <= 0 ? DefaultChunkPage : Math.Min(request.Count, MaxChunkPage);
        await log.ReadBarrierAsync(cancellationToken).ConfigureAwait(false);
        var (code, info, chunks) = log.Read(s => (s.FileChunks(request.Path, request.FirstIndex, count, out var i, out var c), i, c));
        if (code != ErrorCode.Ok)
        {
            throw new GfsException(code, $"cannot list the chunks: {code}");
        }

        var reply = new GetChunksReply
        {
            Attributes = new EntryAttributes
            {
                Name = info.Name,
                Id = info.Id,
                Kind = EntryKind.File,
                Size = info.Size,
                ModifiedUnixMs = info.MTime,
                Goal = info.Goal,
                ChunkSize = info.ChunkSize,
                Count = info.Count,
            },
            Chunks = new List<ChunkLocation>(chunks.Length),
        };
        for (var i = 0; i < chunks.Length; i++)
        {
            var replicas = Registry.Locations(chunks[i].Handle, chunks[i].Version, request.ClientHost, out var length);
            reply.Chunks.Add(new ChunkLocation { Index = request.FirstIndex + i, Handle = chunks[i].Handle, Version = chunks[i].Version, Length = length, Replicas = replicas });
        }

        return reply;
    }

    /// <summary>
    /// <c>master/ReportReplica</c> (leader): a checksum mismatch marks the replica bad until it
    /// verifies; an unreachable or refusing replica is left out of the chunk's next lease.
    /// </summary>
    public async Task ReportReplicaAsync(ReportReplicaRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        await log.ReadBarrierAsync(cancellationToken).ConfigureAwait(false);
        var current = log.Read(s => VersionOf(s, request.Handle));
        if (current == 0 || request.Version < current)
        {
            return; // the chunk is gone or has moved on; the report is about the past
        }

        switch (request.Problem)
        {
            case ReplicaProblem.ChecksumMismatch:
                Registry.MarkBad(request.Handle, request.ServerId);
                break;
            case ReplicaProblem.Unreachable or ReplicaProblem.Refused:
                Leases.ReportFailure(request.Handle, request.Version, request.ServerId);
                break;
            default:
                throw new GfsException(ErrorCode.InvalidArgument, $"unknown replica problem {(int)request.Problem}");
        }
    }
}
