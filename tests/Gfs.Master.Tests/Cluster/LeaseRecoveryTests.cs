using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Master.Cluster;
using Gfs.Master.Commands;
using Microsoft.Extensions.Time.Testing;
using static Gfs.Master.Tests.Cluster.Heartbeats;
using static Gfs.Master.Tests.State.Ops;

namespace Gfs.Master.Tests.Cluster;

/// <summary>
/// How the leader gets a chunk going again after a fault: a version committed that no replica
/// received, an allocation committed and never created, a primary that died or restarted, client
/// failure reports that must not shrink replication for good.
/// </summary>
public class LeaseRecoveryTests
{
    private static readonly string[] Servers = ["s1", "s2", "s3", "s4"];
    private readonly FakeTimeProvider clock = new();
    private readonly FakeMasterLog log = new();
    private readonly FakeChannel channel = new();
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;
    private ChunkserverRegistry registry;
    private LeaseManager leases;

    public LeaseRecoveryTests()
    {
        (registry, leases) = NewLeader();
        log.State.Run(Create("/f", goal: 3, chunkSize: 1 << 20));
    }

    /// <summary>A fresh leader (its own soft state), which hears every live server's full report.</summary>
    private (ChunkserverRegistry, LeaseManager) NewLeader(params string[] down)
    {
        var newRegistry = new ChunkserverRegistry(clock, new DataPathOptions());
        var manager = new LeaseManager(log, newRegistry, channel, clock);
        foreach (var s in Servers.Except(down))
        {
            newRegistry.Record(Report(s, full: true));
        }

        return (newRegistry, manager);
    }

    /// <summary>A heartbeat listing the replicas <paramref name="server"/> holds (as the fake channel has them).</summary>
    private HeartbeatRequest Report(string server, bool full)
    {
        var held = channel.Held.Where(h => h.Key.Server == server).Select(h => Chunk(h.Key.Handle, h.Value)).ToArray();
        return Of(server, full: full, chunks: held);
    }

    /// <summary>Moves the clock, with full heartbeats from every server not down (so none dies meanwhile).</summary>
    private void Advance(TimeSpan span, params string[] down)
    {
        for (var left = span; left > TimeSpan.Zero; left -= TimeSpan.FromSeconds(2))
        {
            clock.Advance(left < TimeSpan.FromSeconds(2) ? left : TimeSpan.FromSeconds(2));
            foreach (var s in Servers.Except(down))
            {
                registry.Record(Report(s, full: true));
            }
        }
    }

    private static LeaseChunkRequest Request(bool allocate = false, params string[] failed)
        => new() { Path = P("/f"), Index = 0, Allocate = allocate, Failed = [.. failed] };

    private long Handle => log.Read(s => s.FileChunks(P("/f"), 0, 1, out _, out var c) == ErrorCode.Ok ? c[0].Handle : 0);

    [Fact]
    public async Task AVersionCommittedThatNoReplicaReceived_IsGrantedAgainAtTheNextVersion_ToTheReplicasOfTheOldOne()
    {
        var first = await leases.LeaseAsync(Request(allocate: true), ct);
        var holders = first.Chunk.Replicas.Select(r => r.ServerId).ToArray();
        clock.Advance(TimeSpan.FromSeconds(65));

        // The leader commits version 2 for the three holders and crashes before any Grant is sent.
        Assert.Equal(ErrorCode.Ok, log.State.Run(new BumpChunkVersionOp { Handle = first.Chunk.Handle, ExpectedVersion = 1, Replicas = holders }).Code);
        (registry, leases) = NewLeader();
        leases.BecameLeader();
        Advance(LeaseManager.LeaderSettle + TimeSpan.FromSeconds(1));

        // Before the fix, no replica held version 2 and the chunk answered Unavailable for ever.
        var lease = await leases.LeaseAsync(Request(), ct);

        Assert.Equal(3, lease.Chunk.Version);
        Assert.Equal(holders.Order(), lease.Chunk.Replicas.Select(r => r.ServerId).Order());
        Assert.All(holders, h => Assert.Equal(3, channel.Held[(h, first.Chunk.Handle)]));
        var grant = log.Read(s => s.GrantOf(first.Chunk.Handle));
        Assert.NotNull(grant);
        Assert.Equal((3L, 1L), (grant.Version, grant.BaseVersion));
        Assert.Equal(holders.Order(), grant.Servers.Order());
    }

    [Fact]
    public async Task AnAllocationCommittedAndNeverCreated_IsCreatedAfresh_WhenAServerItWasPlacedOnDoesNotHoldIt()
    {
        // The leader committed chunk 0 on s1..s3 and crashed before creating any replica.
        Assert.Equal(ErrorCode.Ok, log.State.Run(Allocate("/f", 0, 500, "s1", "s2", "s3")).Code);
        leases.BecameLeader();
        Advance(LeaseManager.LeaderSettle + TimeSpan.FromSeconds(1));

        var lease = await leases.LeaseAsync(Request(), ct); // the first write does not allocate: the chunk exists

        Assert.Equal((500L, 2L), (lease.Chunk.Handle, lease.Chunk.Version));
        Assert.Equal(3, lease.Chunk.Replicas.Count);
        Assert.All(channel.For(500), g => Assert.True(g.Create && g.Version == 2));
        Assert.Equal(0L, log.Read(s => s.GrantOf(500))!.BaseVersion);
    }

    [Fact]
    public async Task AReplicaLeftOutOfTheCurrentVersion_IsNeverUsed_WhenTheReplicasOfThatVersionAreGone()
    {
        var first = await leases.LeaseAsync(Request(allocate: true), ct);
        var left = first.Chunk.Replicas.First(r => r.ServerId != first.PrimaryId).ServerId;
        var second = await leases.LeaseAsync(Request(failed: left), ct); // version 2 without it: writes may follow there
        Assert.Equal(2, second.Chunk.Version);
        var granted = second.Chunk.Replicas.Select(r => r.ServerId).ToArray();
        var bumps = log.Bumps;

        // Every server of version 2 dies; only the left-out replica (version 1) lives.
        Advance(TimeSpan.FromSeconds(70), down: granted);
        var e = await Assert.ThrowsAsync<GfsException>(() => leases.LeaseAsync(Request(), ct));

        Assert.Equal(ErrorCode.Unavailable, e.Code);
        Assert.Equal(bumps, log.Bumps);
        Assert.Equal(1, channel.Held[(left, first.Chunk.Handle)]);
        Assert.Empty(registry.Locations(first.Chunk.Handle, 2, null, out _));
    }

    [Fact]
    public async Task AProbeThatHeldTheVersionAfterAll_EndsTheAttempt_AndOnlyTheHoldersOfThatVersionGoOn()
    {
        var first = await leases.LeaseAsync(Request(allocate: true), ct);
        var holders = first.Chunk.Replicas.Select(r => r.ServerId).ToArray();
        clock.Advance(TimeSpan.FromSeconds(65));
        log.State.Run(new BumpChunkVersionOp { Handle = first.Chunk.Handle, ExpectedVersion = 1, Replicas = holders });
        (registry, leases) = NewLeader();
        Advance(TimeSpan.FromSeconds(3));

        // A late grant of version 2 reaches the first holder after its last report said version 1.
        channel.Held[(holders[0], first.Chunk.Handle)] = 2;
        var lease = await leases.LeaseAsync(Request(), ct);

        Assert.Equal(4, lease.Chunk.Version);
        Assert.Equal([holders[0]], lease.Chunk.Replicas.Select(r => r.ServerId));
        var grant = log.Read(s => s.GrantOf(first.Chunk.Handle))!;
        Assert.Equal((4L, 2L), (grant.Version, grant.BaseVersion)); // later repairs accept only version-2 replicas
        Assert.All(holders.Skip(1), h => Assert.Equal(3, channel.Held[(h, first.Chunk.Handle)])); // stale from here on
    }

    [Fact]
    public async Task APrimaryThatRestarted_IsNotHandedBack_TheChunkIsLeasedAfreshAtOnce()
    {
        await leases.LeaseAsync(Request(allocate: true), ct);
        var first = leases.Find(Handle)!;

        // The primary restarts: its lease died with its memory. Its first heartbeat names the new start.
        registry.Record(Of(first.PrimaryId, started: 2, chunks: [Chunk(Handle, 1)]));

        var lease = await leases.LeaseAsync(Request(), ct); // the client renews after LeaseExpired, naming nobody

        Assert.Equal(2, lease.Chunk.Version); // not the old lease of version 1, and no wait for it to end
        Assert.Equal(3, channel.For(Handle).Count(g => g.Version == 2));
    }

    [Fact]
    public async Task ADeadPrimary_IsReplacedWithoutWaitingOutItsLease_ByReplicasItsVersionFences()
    {
        var first = await leases.LeaseAsync(Request(allocate: true), ct);
        Advance(TimeSpan.FromSeconds(12), down: first.PrimaryId); // no heartbeat for 12 s: dead

        var second = await leases.LeaseAsync(Request(failed: first.PrimaryId), ct).WaitAsync(TimeSpan.FromSeconds(10), ct);

        Assert.NotEqual(first.PrimaryId, second.PrimaryId);
        Assert.Equal(2, second.Chunk.Version);
        var granted = channel.For(first.Chunk.Handle).Where(g => g.Version == 2).ToList();
        Assert.Equal(2, granted.Count);
        Assert.All(granted, g => Assert.DoesNotContain(g.Replicas, r => r.ServerId == first.PrimaryId));

        // Every member of version 2 held version 1, so the old primary's mutations at 1 are refused by them.
        Assert.All(second.Chunk.Replicas, r => Assert.Contains(first.Chunk.Replicas, o => o.ServerId == r.ServerId));
    }

    [Fact]
    public async Task TheOnlyHolderOfTheVersion_IsUsedEvenWhenAClientReportedItFailed_OnceItHeartbeatsAgain()
    {
        var first = await leases.LeaseAsync(Request(allocate: true), ct);
        var holder = first.PrimaryId;
        var others = first.Chunk.Replicas.Select(r => r.ServerId).Where(s => s != holder).ToArray();
        var alone = await leases.LeaseAsync(Request(failed: others), ct); // version 2 on the primary alone
        Assert.Equal([holder], alone.Chunk.Replicas.Select(r => r.ServerId));

        // The holder restarts; a client that saw it fail keeps naming it in its retries.
        registry.Record(Of(holder, started: 2, chunks: [Chunk(first.Chunk.Handle, 2)]));
        var lease = await leases.LeaseAsync(Request(failed: holder), ct);

        Assert.Equal(3, lease.Chunk.Version);
        Assert.Equal([holder], lease.Chunk.Replicas.Select(r => r.ServerId));
    }

    [Fact]
    public async Task AVersionGrantedOnlyToAServerThatDied_IsRepairedFromIt_WhenItReturns_EvenIfAClientStillNamesItFailed()
    {
        var first = await leases.LeaseAsync(Request(allocate: true), ct);
        var holder = first.PrimaryId;
        var others = first.Chunk.Replicas.Select(r => r.ServerId).Where(s => s != holder).ToArray();
        await leases.LeaseAsync(Request(failed: others), ct); // version 2 on the holder alone

        // The holder dies; a client reports it, and the leader's next grant (version 3) reaches nobody.
        channel.Failing[holder] = true;
        await Assert.ThrowsAsync<GfsException>(() => leases.LeaseAsync(Request(failed: holder), ct));
        Assert.Equal(3, log.Version(first.Chunk.Handle));

        // It comes back with version 2; the client still names it failed.
        channel.Failing.TryRemove(holder, out _);
        registry.Record(Of(holder, started: 2, chunks: [Chunk(first.Chunk.Handle, 2)]));
        var lease = await leases.LeaseAsync(Request(failed: holder), ct);

        Assert.Equal(4, lease.Chunk.Version);
        Assert.Equal([holder], lease.Chunk.Replicas.Select(r => r.ServerId));
    }

    [Fact]
    public async Task ALivePrimaryOneClientCannotReach_IsKeptUntilItsLeaseEnds()
    {
        var first = await leases.LeaseAsync(Request(allocate: true), ct);
        Advance(TimeSpan.FromSeconds(5));

        var e = await Assert.ThrowsAsync<GfsException>(() => leases.LeaseAsync(Request(failed: first.PrimaryId), ct));
        Assert.Equal(ErrorCode.Unavailable, e.Code); // the lease may run for 56 s more: retry later
        Assert.Equal(0, log.Bumps);

        Advance(TimeSpan.FromSeconds(57));
        var second = await leases.LeaseAsync(Request(failed: first.PrimaryId), ct);
        Assert.NotEqual(first.PrimaryId, second.PrimaryId);
    }

    [Fact]
    public async Task ANewChunkWhoseSecondaryDidNotTakeTheGrant_IsRaisedAgainWithoutIt_BeforeAnyClientUsesIt()
    {
        // s2 is placed (its heartbeats are fresh) but dead to grants: the primary must not forward to it.
        channel.Failing["s2"] = true;
        channel.Failing["s3"] = true;
        var lease = await leases.LeaseAsync(Request(allocate: true), ct);

        Assert.Equal(2, lease.Chunk.Version);
        var members = channel.For(lease.Chunk.Handle).Where(g => g.Version == 2).ToList();
        Assert.NotEmpty(members);
        Assert.All(members, g => Assert.DoesNotContain(g.Replicas, r => r.ServerId is "s2" or "s3"));
        Assert.DoesNotContain(lease.Chunk.Replicas, r => r.ServerId is "s2" or "s3");
        Assert.Equal(lease.Chunk.Replicas.Select(r => r.ServerId).Order(), leases.Find(lease.Chunk.Handle)!.Members.Order());
    }

    [Fact]
    public async Task FailureReports_CountOnlyForTheirVersion_AndOnlyForAWhile()
    {
        var first = await leases.LeaseAsync(Request(allocate: true), ct);
        var secondary = first.Chunk.Replicas.First(r => r.ServerId != first.PrimaryId).ServerId;

        // A report about a version that has moved on, and one too old, change nothing.
        leases.ReportFailure(first.Chunk.Handle, version: 0, secondary);
        Assert.Equal(1, (await leases.LeaseAsync(Request(), ct)).Chunk.Version);
        leases.ReportFailure(first.Chunk.Handle, version: 1, secondary);
        Advance(LeaseManager.FailureReportLifetime + TimeSpan.FromSeconds(1));
        var kept = await leases.LeaseAsync(Request(), ct);
        Assert.Equal(1, kept.Chunk.Version);
        Assert.Contains(kept.Chunk.Replicas, r => r.ServerId == secondary);

        // A fresh report about the current version leaves the server out of the next lease.
        leases.ReportFailure(first.Chunk.Handle, version: 1, secondary);
        var without = await leases.LeaseAsync(Request(), ct);
        Assert.Equal(2, without.Chunk.Version);
        Assert.DoesNotContain(without.Chunk.Replicas, r => r.ServerId == secondary);
    }

    [Fact]
    public void FailureReports_StayBounded()
    {
        for (var handle = 1; handle <= LeaseManager.MaxReportedChunks + 500; handle++)
        {
            leases.ReportFailure(handle, version: 1, "s2");
            clock.Advance(TimeSpan.FromMilliseconds(1));
        }

        Assert.InRange(leases.ReportedChunkCount, 1, LeaseManager.MaxReportedChunks);
    }

    [Fact]
    public async Task AnAllocationWhoseCallerGivesUp_IsStillGranted()
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        channel.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pending = leases.LeaseAsync(Request(allocate: true), cancel.Token);
        await Gfs.Testing.Retry.Until("the allocation is committed", () => Task.FromResult(Handle != 0), TimeSpan.FromSeconds(10));

        cancel.Cancel();
        channel.Gate.SetResult();
        var lease = await pending;

        Assert.Equal(1, lease.Chunk.Version);
        Assert.Equal(3, channel.For(Handle).Count(g => g.Create));
    }
}
