using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Master.Commands;
using Gfs.Master.State;

namespace Gfs.Master.Cluster;


public sealed partial class LeaseManager
{
    /// <summary>
    /// <c>master/LeaseChunk</c>: allocates the chunk when asked and it is the file's next one, then
    /// returns its lease (steps 1–4 of docs/data-path.md §Leases). Leader only.
    /// </summary>
    /// <exception cref="Gfs.Consensus.NotLeaderException">Not the leader.</exception>
    /// <exception cref="GfsException">NotFound, IsADirectory, InvalidArgument, or Unavailable when no replica can take the lease now.</exception>
    public async Task<LeaseChunkReply> LeaseAsync(LeaseChunkRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Index < 0)
        {
            throw new GfsException(ErrorCode.InvalidArgument, "a chunk index cannot be negative");
        }

        await log.ReadBarrierAsync(cancellationToken).ConfigureAwait(false);
        for (var attempt = 0; ; attempt++)
        {
            var (code, info, chunks) = log.Read(s => (s.FileChunks(request.Path, request.Index, 1, out var i, out var c), i, c));
            if (code != ErrorCode.Ok)
            {
                throw new GfsException(code, $"cannot lease chunk {request.Index}: {code}");
            }

            if (request.FileId != 0 && info.Id != request.FileId)
            {
                throw new GfsException(ErrorCode.FileReplaced, $"cannot lease chunk {request.Index}: the file at this path is not the one this writer opened");
            }

            var failed = new HashSet<string>(request.Failed, StringComparer.Ordinal);
            if (chunks.Length == 1)
            {
                return await LeaseExistingAsync(request.Index, chunks[0].Handle, info, failed, request.ClientHost, cancellationToken).ConfigureAwait(false);
            }

            if (!request.Allocate || request.Index != info.Count)
            {
                throw new GfsException(
                    request.Index > info.Count ? ErrorCode.InvalidArgument : ErrorCode.NotFound,
                    $"the file has {info.Count} chunks; chunk {request.Index} {(request.Allocate ? "cannot be allocated" : "does not exist")}");
            }

            var allocated = await AllocateAsync(request, info, failed, cancellationToken).ConfigureAwait(false);
            if (allocated is not null || attempt >= 3)
            {
                return allocated ?? throw new GfsException(ErrorCode.Unavailable, "could not allocate the chunk; retry");
            }

            // Lost a race with another allocation at this index: lease that chunk on the next round.
        }
    }

    /// <summary>Step 1: place, commit the allocation, create the replicas. Null when another allocation won the index.</summary>
    private async Task<LeaseChunkReply?> AllocateAsync(LeaseChunkRequest request, EntryInfo info, HashSet<string> failed, CancellationToken cancellationToken)
    {
        var placed = registry.Place(Math.Max(1, info.Goal), info.ChunkSize, failed);
        var handle = log.NewChunkHandle();
        var result = await log.ExecuteAsync(
            new AllocateChunkOp { Path = request.Path, ChunkIndex = request.Index, Handle = handle, Replicas = placed.Select(p => p.ServerId).ToArray(), FileId = request.FileId },
            cancellationToken).ConfigureAwait(false);
        if (result.Code == ErrorCode.Conflict)
        {
            return null;
        }

        if (result.Code != ErrorCode.Ok)
        {
            throw new GfsException(result.Code, result.Message ?? "allocation failed");
        }

        return await GrantNewAsync(request.Index, handle, placed, info.ChunkSize, request.ClientHost).ConfigureAwait(false);
    }

    /// <summary>Creates the replicas of a just-allocated chunk (version 1) and returns its lease.</summary>
    private async Task<LeaseChunkReply> GrantNewAsync(int index, long handle, List<ReplicaLocation> placed, int chunkSize, string clientHost)
    {
        using var held = await LockAsync(handle, CancellationToken.None).ConfigureAwait(false);
        var granted = await GrantAsync(handle, 1, create: true, placed, chunkSize).ConfigureAwait(false);
        if (granted.Lease is { Confirmed: true } lease)
        {
            return Reply(index, lease, chunkSize, clientHost);
        }

        // The primary did not answer, but no client has seen this chunk yet: the replicas that were
        // created move to version 2 under another primary (the silent one, if it took version 1, is fenced).
        if (granted.Answered.Count == 0)
        {
            throw new GfsException(ErrorCode.Unavailable, $"no chunkserver could create chunk {handle}");
        }

        var second = await BumpAndGrantAsync(handle, 1, granted.Answered, chunkSize).ConfigureAwait(false);
        return Reply(index, second, chunkSize, clientHost);
    }

    /// <summary>Steps 2–4 for an existing chunk.</summary>
    private async Task<LeaseChunkReply> LeaseExistingAsync(int index, long handle, EntryInfo info, HashSet<string> failed, string clientHost, CancellationToken cancellationToken)
    {
        using var held = await LockAsync(handle, cancellationToken).ConfigureAwait(false);
        var current = log.Read(s => s.TryGetChunk(handle, out var c) ? c.Version : 0);
        if (current == 0)
        {
            throw new GfsException(ErrorCode.NotFound, $"chunk {handle} no longer exists");
        }

        long settleUntil;
        ChunkLease? lease;
        lock (gate)
        {
            if (reportedFailures.Remove(handle, out var reported))
            {
                failed.UnionWith(reported);
            }

            lease = leases.GetValueOrDefault(handle);
            settleUntil = leaderSince == long.MinValue ? 0 : leaderSince + registry.Ticks(LeaderSettle);
        }

        var now = registry.Now;
        if (lease is null && registry.ReportedLeaseOf(handle) is { } report && report.Version == current)
        {
            // A lease an earlier leader granted, known from the primary's heartbeats to this master.
            lease = new ChunkLease(handle, current, report.ServerId, WithPrimaryFirst(report.ServerId, registry.Locations(handle, current, null, out _)), report.ExpiresAt, Confirmed: true);
            lock (gate)
            {
                leases[handle] = lease;
            }
        }

        var primaryUsable = lease is not null && !failed.Contains(lease.PrimaryId) && registry.IsLive(lease.PrimaryId);
        if (lease is { Confirmed: true } && lease.Version == current && lease.ExpiresAt > now && primaryUsable)
        {
            var keep = lease.Replicas.Where(r => !failed.Contains(r.ServerId) && registry.IsLive(r.ServerId)).ToList();
            if (keep.Count == lease.Replicas.Count)
            {
                return Reply(index, lease, info.ChunkSize, clientHost); // step 2
            }

            // Step 3: the same primary at a raised version, without the failed replicas.
            var regranted = await BumpAndGrantAsync(handle, current, keep, info.ChunkSize).ConfigureAwait(false);
            return Reply(index, regranted, info.ChunkSize, clientHost);
        }

        // Step 4.
        var candidates = registry.Locations(handle, current, clientHost, out _).Where(r => !failed.Contains(r.ServerId)).ToList();
        if (candidates.Count == 0)
        {
            throw new GfsException(ErrorCode.Unavailable, $"chunk {handle} has no live up-to-date replica outside the failed ones");
        }

        // The holder of the known lease may take it again at once (its new Grant replaces the old lease);
        // anyone else waits until every lease known for the chunk has expired.
        var holder = lease?.PrimaryId ?? registry.ReportedLeaseOf(handle)?.ServerId;
        var primary = candidates.Find(c => c.ServerId == holder) ?? candidates[0];
        if (primary.ServerId != holder)
        {
            var waitUntil = Math.Max(settleUntil, Math.Max(lease?.ExpiresAt ?? 0, registry.ReportedLeaseOf(handle)?.ExpiresAt ?? 0));
            var wait = waitUntil - registry.Now;
            if (wait > 0)
            {
                var span = TimeSpan.FromMilliseconds(registry.Milliseconds(wait) + 1);
                if (span > Options.MaxLeaseWait)
                {
                    throw new GfsException(ErrorCode.Unavailable, $"chunk {handle}: an earlier lease may run for another {span.TotalMilliseconds:0} ms; retry later");
                }

                await Task.Delay(span, time, cancellationToken).ConfigureAwait(false);
            }
        }

        var replicas = (List<ReplicaLocation>)[primary, .. candidates.Where(c => c.ServerId != primary.ServerId)];
        var granted = await BumpAndGrantAsync(handle, current, replicas, info.ChunkSize).ConfigureAwait(false);
        return Reply(index, granted, info.ChunkSize, clientHost);
    }

    /// <summary>Raises the version through the log and grants the lease to <paramref name="replicas"/> (the primary first).</summary>
    private async Task<ChunkLease> BumpAndGrantAsync(long handle, long current, List<ReplicaLocation> replicas, int chunkSize)
    {
        var bumped = await log.ExecuteAsync(new BumpChunkVersionOp { Handle = handle, ExpectedVersion = current }, CancellationToken.None).ConfigureAwait(false);
        if (bumped.Code != ErrorCode.Ok)
        {
            throw new GfsException(bumped.Code == ErrorCode.Conflict ? ErrorCode.Unavailable : bumped.Code, $"chunk {handle}: {bumped.Message}");
        }

        var granted = await GrantAsync(handle, bumped.Value, create: false, replicas, chunkSize).ConfigureAwait(false);
        return granted.Lease is { Confirmed: true } lease
            ? lease
            : throw new GfsException(ErrorCode.Unavailable, $"chunk {handle}: the primary {replicas[0].ServerId} did not answer the grant; retry");
    }

    /// <summary>
    /// Sends Grant to every replica in parallel. Those that answered are recorded at the new version;
    /// the lease ends at the primary's reply + lease + grace, or, when the primary did not answer, it
    /// is recorded unconfirmed until now + lease + grace (the primary may have taken it).
    /// </summary>
    private async Task<(ChunkLease Lease, List<ReplicaLocation> Answered)> GrantAsync(long handle, long version, bool create, List<ReplicaLocation> replicas, int chunkSize)
    {
        var leaseMs = (long)Options.LeaseLength.TotalMilliseconds;
        var term = log.Term;
        var calls = replicas.Select((r, i) => CallGrantAsync(r, new GrantRequest
        {
            Handle = handle,
            Version = version,
            Create = create,
            Primary = i == 0,
            LeaseMs = leaseMs,
            Replicas = replicas,
            ChunkSize = chunkSize,
            Term = term,
        })).ToList();
        var outcomes = await Task.WhenAll(calls).ConfigureAwait(false);

        var answered = new List<ReplicaLocation>();
        for (var i = 0; i < replicas.Count; i++)
        {
            if (outcomes[i].Reply is { } reply)
            {
                registry.RecordGrant(handle, version, replicas[i].ServerId, reply.Length);
                answered.Add(replicas[i]);
            }
        }

        var primaryAnswered = outcomes[0].Reply is not null;
        var end = (primaryAnswered ? outcomes[0].ArrivedAt : registry.Now) + registry.Ticks(Options.LeaseLength + Options.LeaseGrace);
        var lease = new ChunkLease(handle, version, replicas[0].ServerId, primaryAnswered ? answered : replicas, end, primaryAnswered);
        lock (gate)
        {
            leases[handle] = lease;
        }

        return (lease, answered);
    }

    private async Task<(GrantReply? Reply, long ArrivedAt)> CallGrantAsync(ReplicaLocation server, GrantRequest request)
    {
        try
        {
            var reply = await channel.GrantAsync(server, request, CancellationToken.None).ConfigureAwait(false);
            return (reply, registry.Now);
        }
        catch (Exception e) when (e is GfsException or OperationCanceledException or HttpRequestException or TimeoutException)
        {
            return (null, registry.Now);
        }
    }

    private LeaseChunkReply Reply(int index, ChunkLease lease, int chunkSize, string clientHost)
    {
        var near = registry.Locations(lease.Handle, lease.Version, clientHost, out var length);
        var members = lease.Replicas.Select(r => r.ServerId).ToHashSet(StringComparer.Ordinal);

        // Lease members, nearest first as the registry orders them; members not (yet) reported keep their place at the end.
        var ordered = near.Where(r => members.Contains(r.ServerId)).ToList();
        ordered.AddRange(lease.Replicas.Where(r => !ordered.Exists(o => o.ServerId == r.ServerId)));
        var remaining = lease.ExpiresAt - registry.Now - registry.Ticks(Options.LeaseGrace);
        return new LeaseChunkReply
        {
            Chunk = new ChunkLocation { Index = index, Handle = lease.Handle, Version = lease.Version, Length = length, Replicas = ordered },
            PrimaryId = lease.PrimaryId,
            LeaseRemainingMs = Math.Max(0, registry.Milliseconds(remaining)),
            ChunkSize = chunkSize,
        };
    }
}
