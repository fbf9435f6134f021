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

            var allocated = await AllocateAsync(request, info, failed).ConfigureAwait(false);
            if (allocated is not null || attempt >= 3)
            {
                return allocated ?? throw new GfsException(ErrorCode.Unavailable, "could not allocate the chunk; retry");
            }

            // Lost a race with another allocation at this index: lease that chunk on the next round.
        }
    }

    /// <summary>
    /// Step 1: place, commit the allocation, create the replicas. Null when another allocation won the
    /// index. Runs to the end even when the caller gives up: an allocation committed and never granted
    /// would only be repaired by the next lease request.
    /// </summary>
    private async Task<LeaseChunkReply?> AllocateAsync(LeaseChunkRequest request, EntryInfo info, HashSet<string> failed)
    {
        var placed = registry.Place(Math.Max(1, info.Goal), info.ChunkSize, failed);
        var handle = log.NewChunkHandle();
        var result = await log.ExecuteAsync(
            new AllocateChunkOp { Path = request.Path, ChunkIndex = request.Index, Handle = handle, Replicas = placed.Select(p => p.ServerId).ToArray(), FileId = request.FileId },
            CancellationToken.None).ConfigureAwait(false);
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
            return Reply(index, await CompleteAsync(lease, granted.Answered, placed.Count, chunkSize).ConfigureAwait(false), chunkSize, clientHost);
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
        var now = registry.Now;
        lock (gate)
        {
            failed.UnionWith(TakeReports(handle, current, now));
            lease = leases.GetValueOrDefault(handle);
            settleUntil = leaderSince == long.MinValue ? 0 : leaderSince + registry.Ticks(LeaderSettle);
        }

        if (lease is null && registry.ReportedLeaseOf(handle) is { } report && report.Version == current)
        {
            // A lease an earlier leader granted, known from the primary's heartbeats to this master.
            var known = WithPrimaryFirst(report.ServerId, registry.Locations(handle, current, null, out _));
            lease = new ChunkLease(handle, current, report.ServerId, known, report.ExpiresAt, Confirmed: true, GrantMembers(handle, current, known));
            lock (gate)
            {
                leases[handle] = lease;
            }
        }

        var primaryUsable = lease is not null && !failed.Contains(lease.PrimaryId) && registry.IsLive(lease.PrimaryId);
        if (lease is { Confirmed: true } && lease.Version == current && lease.ExpiresAt > now && primaryUsable)
        {
            var keep = lease.Replicas.Where(r => !failed.Contains(r.ServerId) && registry.IsLive(r.ServerId)).ToList();
            if (keep.Count == lease.Replicas.Count && lease.Members.All(m => !failed.Contains(m)))
            {
                return Reply(index, lease, info.ChunkSize, clientHost); // step 2
            }

            // Step 3: the same primary at a raised version, without the failed replicas.
            var regranted = await BumpAndGrantAsync(handle, current, keep, info.ChunkSize).ConfigureAwait(false);
            return Reply(index, regranted, info.ChunkSize, clientHost);
        }

        // Step 4.
        var upToDate = registry.Locations(handle, current, clientHost, out _);
        var candidates = upToDate.Where(r => !failed.Contains(r.ServerId)).ToList();
        if (candidates.Count == 0 && upToDate.Count > 0)
        {
            // Every live holder of the version is among the failed ones: the client saw them fail, but they
            // heartbeat (a restart, a pause that ended). Leaving them all out would leave the chunk with
            // no replica at all, so they are used after all.
            candidates = upToDate;
        }

        if (candidates.Count == 0)
        {
            // No replica holds the current version: perhaps its grant reached nobody who could have mutated it.
            return await ConvergeAsync(index, handle, current, info, failed, clientHost).ConfigureAwait(false);
        }

        // The holder of the known lease may take it again at once (its new Grant replaces the old lease).
        // Anyone else waits until every lease known for the chunk has expired -- unless the holder is
        // dead or restarted (its lease died with it, or the new version fences it: docs/data-path.md).
        var holder = lease?.PrimaryId ?? registry.ReportedLeaseOf(handle)?.ServerId;
        var primary = candidates.Find(c => c.ServerId == holder) ?? candidates[0];
        if (primary.ServerId != holder && (holder is null || registry.IsLive(holder)))
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

    /// <summary>
    /// The chunk's current version <paramref name="current"/> is on no live replica. A mutation at a
    /// version needs every server it was granted to; so when one of them is known to be still at the
    /// version the grant came from (or, for a chunk created empty, not to hold it at all), nothing was
    /// ever acknowledged at <paramref name="current"/>, and the replicas of that older version hold every
    /// acknowledged byte: they are granted the next version (a chunk that exists nowhere is created
    /// afresh). Otherwise a replica of the current version may hold data nobody else has, and the
    /// chunk waits for it (Unavailable). The proof is checked again in the grant replies: a probe that
    /// turns out to have held the current version after all ends the attempt.
    /// </summary>
    private async Task<LeaseChunkReply> ConvergeAsync(int index, long handle, long current, EntryInfo info, HashSet<string> failed, string clientHost)
    {
        var grant = log.Read(s => s.GrantOf(handle));
        if (grant is null || grant.Version != current)
        {
            throw new GfsException(ErrorCode.Unavailable, $"chunk {handle} has no live up-to-date replica outside the failed ones");
        }

        var probe = Probe(grant, handle, failed);
        if (probe is null && failed.Count > 0 && Probe(grant, handle, []) is { } reported)
        {
            // Only servers a client saw fail can show it, and they heartbeat: the client's view is older.
            probe = reported;
            failed.Clear();
        }

        if (probe is null)
        {
            throw new GfsException(ErrorCode.Unavailable, $"chunk {handle}: no live replica of version {current}, and none of the servers it was granted to shows it was never used; waiting for them");
        }

        var create = grant.BaseVersion == 0;
        List<ReplicaLocation> replicas;
        if (create)
        {
            var placed = registry.Place(Math.Max(1, info.Goal), info.ChunkSize, failed);
            var probeLocation = placed.Find(p => p.ServerId == probe) ?? registry.Find(probe) ?? throw new GfsException(ErrorCode.Unavailable, $"chunk {handle}: server {probe} is gone");
            replicas = [probeLocation, .. placed.Where(p => p.ServerId != probe).Take(Math.Max(1, info.Goal) - 1)];
        }
        else
        {
            var older = registry.Locations(handle, grant.BaseVersion, clientHost, out _).Where(r => !failed.Contains(r.ServerId)).ToList();
            var probeLocation = older.Find(r => r.ServerId == probe) ?? registry.Find(probe) ?? throw new GfsException(ErrorCode.Unavailable, $"chunk {handle}: server {probe} is gone");
            replicas = [probeLocation, .. older.Where(r => r.ServerId != probe)];
        }

        var bumped = await CommitBumpAsync(handle, current, replicas, create ? -1 : grant.BaseVersion).ConfigureAwait(false);
        var granted = await GrantAsync(handle, bumped, create, replicas, info.ChunkSize).ConfigureAwait(false);
        var probeAnswer = granted.Previous.GetValueOrDefault(probe, -1);
        if (probeAnswer >= current)
        {
            // The probe held the current version after all (a grant reached it late): a mutation may have
            // been acknowledged at that version, so only replicas that held it may serve. They move on
            // alone; the others are stale from here on.
            var holders = replicas.Where(r => granted.Previous.GetValueOrDefault(r.ServerId, -1) >= current).ToList();
            var fenced = await CommitBumpAsync(handle, bumped, holders, current).ConfigureAwait(false);
            var again = await GrantAsync(handle, fenced, create: false, holders, info.ChunkSize).ConfigureAwait(false);
            return again.Lease is { Confirmed: true } kept
                ? Reply(index, kept, info.ChunkSize, clientHost)
                : throw new GfsException(ErrorCode.Unavailable, $"chunk {handle}: server {probe} held version {current} after all and did not take version {fenced}; retry");
        }

        if (granted.Lease is { Confirmed: true } lease)
        {
            return Reply(index, await CompleteAsync(lease, granted.Answered, replicas.Count, info.ChunkSize).ConfigureAwait(false), info.ChunkSize, clientHost);
        }

        if (granted.Answered.Count == 0 || probeAnswer < 0)
        {
            throw new GfsException(ErrorCode.Unavailable, $"chunk {handle}: the replicas of version {grant.BaseVersion} did not answer the grant of version {bumped}; retry");
        }

        // The probe answered (fenced below the old version) but the primary did not: the replicas that answered move on again.
        var second = await BumpAndGrantAsync(handle, bumped, granted.Answered, info.ChunkSize).ConfigureAwait(false);
        return Reply(index, second, info.ChunkSize, clientHost);
    }

    /// <summary>A live server of <paramref name="grant"/>, not in <paramref name="failed"/>, still at the version the grant came from (for a new chunk: without it).</summary>
    private string? Probe(ChunkGrant grant, long handle, HashSet<string> failed)
        => grant.Servers.FirstOrDefault(id => !failed.Contains(id) && registry.ReplicaVersionOn(id, handle) is { } v && v == grant.BaseVersion);

    /// <summary>Raises the version through the log and grants the lease to <paramref name="replicas"/> (the primary first).</summary>
    private async Task<ChunkLease> BumpAndGrantAsync(long handle, long current, List<ReplicaLocation> replicas, int chunkSize)
    {
        var bumped = await CommitBumpAsync(handle, current, replicas, current).ConfigureAwait(false);
        var granted = await GrantAsync(handle, bumped, create: false, replicas, chunkSize).ConfigureAwait(false);
        return granted.Lease is { Confirmed: true } lease
            ? await CompleteAsync(lease, granted.Answered, replicas.Count, chunkSize).ConfigureAwait(false)
            : throw new GfsException(ErrorCode.Unavailable, $"chunk {handle}: the primary {replicas[0].ServerId} did not answer the grant; retry");
    }

    /// <summary>
    /// A lease whose primary took the version while some secondaries did not: the primary would forward
    /// every mutation to the silent ones, and every mutation would fail until a client reported them.
    /// The version is raised again for the replicas that answered, at once.
    /// </summary>
    private async Task<ChunkLease> CompleteAsync(ChunkLease lease, List<ReplicaLocation> answered, int asked, int chunkSize)
        => answered.Count == asked
            ? lease
            : await BumpAndGrantAsync(lease.Handle, lease.Version, answered, chunkSize).ConfigureAwait(false);

    /// <summary>
    /// Commits the version raise from <paramref name="current"/>, recording that the new version goes to
    /// <paramref name="replicas"/>, which hold <paramref name="baseVersion"/> (-1: nothing, a chunk created afresh).
    /// </summary>
    private async Task<long> CommitBumpAsync(long handle, long current, List<ReplicaLocation> replicas, long baseVersion)
    {
        var op = new BumpChunkVersionOp
        {
            Handle = handle,
            ExpectedVersion = current,
            Replicas = [.. replicas.Select(r => r.ServerId)],
            BaseVersion = baseVersion == current ? 0 : baseVersion,
        };
        var bumped = await log.ExecuteAsync(op, CancellationToken.None).ConfigureAwait(false);
        return bumped.Code == ErrorCode.Ok
            ? bumped.Value
            : throw new GfsException(bumped.Code == ErrorCode.Conflict ? ErrorCode.Unavailable : bumped.Code, $"chunk {handle}: {bumped.Message}");
    }

    /// <summary>
    /// Sends Grant to every replica in parallel. Those that answered are recorded at the new version;
    /// the lease ends at the primary's reply + lease + grace, or, when the primary did not answer, it
    /// is recorded unconfirmed until now + lease + grace (the primary may have taken it). Also returns
    /// the version each answering replica held before the grant.
    /// </summary>
    private async Task<(ChunkLease Lease, List<ReplicaLocation> Answered, Dictionary<string, long> Previous)> GrantAsync(long handle, long version, bool create, List<ReplicaLocation> replicas, int chunkSize)
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
        var previous = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < replicas.Count; i++)
        {
            if (outcomes[i].Reply is { } reply)
            {
                registry.RecordGrant(handle, version, replicas[i].ServerId, reply.Length);
                answered.Add(replicas[i]);
                previous[replicas[i].ServerId] = reply.PreviousVersion;
            }
        }

        var primaryAnswered = outcomes[0].Reply is not null;
        var end = (primaryAnswered ? outcomes[0].ArrivedAt : registry.Now) + registry.Ticks(Options.LeaseLength + Options.LeaseGrace);
        var lease = new ChunkLease(handle, version, replicas[0].ServerId, primaryAnswered ? answered : replicas, end, primaryAnswered, [.. replicas.Select(r => r.ServerId)]);
        lock (gate)
        {
            leases[handle] = lease;
        }

        return (lease, answered, previous);
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
