using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Master.Cluster;
using Microsoft.Extensions.Time.Testing;
using static Gfs.Master.Tests.Cluster.Heartbeats;
using static Gfs.Master.Tests.State.Ops;

namespace Gfs.Master.Tests.Cluster;

public class LeaseManagerTests
{
    private static readonly string[] Servers = ["s1", "s2", "s3", "s4"];
    private readonly FakeTimeProvider clock = new();
    private readonly FakeMasterLog log = new();
    private readonly FakeChannel channel = new();
    private readonly ChunkserverRegistry registry;
    private readonly LeaseManager leases;
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    public LeaseManagerTests()
    {
        registry = new ChunkserverRegistry(clock, new DataPathOptions { MaxLeaseWait = TimeSpan.FromSeconds(90) });
        leases = new LeaseManager(log, registry, channel, clock);
        log.State.Run(Create("/f", goal: 3, chunkSize: 1 << 20));
        foreach (var s in Servers)
        {
            registry.Record(Of(s, rack: s == "s4" ? "r2" : "r1"));
        }
    }

    private static LeaseChunkRequest Request(bool allocate = false, int index = 0, params string[] failed)
        => new() { Path = P("/f"), Index = index, Allocate = allocate, Failed = [.. failed] };

    /// <summary>Heartbeats from every server that is not down, so none dies while the clock moves.</summary>
    private void Advance(TimeSpan span, params string[] down)
    {
        for (var left = span; left > TimeSpan.Zero; left -= TimeSpan.FromSeconds(5))
        {
            clock.Advance(left < TimeSpan.FromSeconds(5) ? left : TimeSpan.FromSeconds(5));
            foreach (var s in Servers.Except(down))
            {
                registry.Record(Of(s, rack: s == "s4" ? "r2" : "r1", full: false));
            }
        }
    }

    [Fact]
    public async Task Allocate_PlacesOnThreeDistinctServersAcrossRacks_AndCreatesThemAtVersion1()
    {
        var reply = await leases.LeaseAsync(Request(allocate: true), ct);

        Assert.Equal(1, reply.Chunk.Version);
        Assert.Equal(3, reply.Chunk.Replicas.Select(r => r.ServerId).Distinct().Count());
        Assert.Contains(reply.Chunk.Replicas, r => r.Rack == "r2");
        var grants = channel.For(reply.Chunk.Handle);
        Assert.Equal(3, grants.Count);
        Assert.All(grants, g => Assert.True(g.Create && g.Version == 1 && g.ChunkSize == 1 << 20 && g.LeaseMs == 60_000));
        Assert.Single(grants, g => g.Primary);
        Assert.Equal(reply.PrimaryId, grants.Single(g => g.Primary).Replicas[0].ServerId);
        Assert.Equal(1, log.Read(s => s.StatOk("/f").Count));
        Assert.Equal(3, registry.Locations(reply.Chunk.Handle, 1, null, out _).Count);
    }

    [Fact]
    public async Task EndedLeases_AreForgottenALeaseLengthAfterTheyEnded_LiveOnesStay()
    {
        var ended = await leases.LeaseAsync(Request(allocate: true), ct);
        log.State.Run(Create("/g", goal: 3, chunkSize: 1 << 20));
        Assert.Equal(0, leases.PruneEnded()); // nothing has ended yet
        Assert.Equal(1, leases.KnownCount);

        Advance(TimeSpan.FromSeconds(61 + 60 + 5)); // the first lease ended more than a lease length ago
        var live = await leases.LeaseAsync(new LeaseChunkRequest { Path = P("/g"), Index = 0, Allocate = true }, ct);
        Assert.Equal(1, leases.PruneEnded());
        Assert.Null(leases.Find(ended.Chunk.Handle));
        Assert.NotNull(leases.Find(live.Chunk.Handle));
        Assert.Equal(0, leases.PruneEnded()); // at most once a minute

        // A forgotten lease is as if unknown: the next request grants a new one at a raised version.
        var again = await leases.LeaseAsync(Request(), ct);
        Assert.Equal(ended.Chunk.Version + 1, again.Chunk.Version);
        Assert.True(again.LeaseRemainingMs > 0);
    }

    [Fact]
    public async Task LiveLease_IsReturnedAsIs_WithoutRaisingTheVersion()
    {
        var first = await leases.LeaseAsync(Request(allocate: true), ct);
        Advance(TimeSpan.FromSeconds(30));
        var again = await leases.LeaseAsync(Request(allocate: true), ct); // allocating again finds the chunk: never an error
        Assert.Equal((first.Chunk.Handle, 1L, first.PrimaryId), (again.Chunk.Handle, again.Chunk.Version, again.PrimaryId));
        Assert.Equal(0, log.Bumps);
        Assert.InRange(again.LeaseRemainingMs, 29_000, 30_000);
    }

    [Fact]
    public async Task ConcurrentRequests_AfterExpiry_RaiseTheVersionOnce()
    {
        var first = await leases.LeaseAsync(Request(allocate: true), ct);
        Advance(TimeSpan.FromSeconds(65));

        var replies = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => leases.LeaseAsync(Request(), ct), ct)));
        Assert.Equal(1, log.Bumps);
        Assert.All(replies, r => Assert.Equal(2, r.Chunk.Version));
        Assert.All(replies, r => Assert.Equal(first.PrimaryId, r.PrimaryId)); // the expired lease's healthy holder takes it again
    }

    [Fact]
    public async Task FailedSecondary_IsLeftOut_AtARaisedVersion_SamePrimaryAtOnce_AndGetsADeleteOrder()
    {
        var first = await leases.LeaseAsync(Request(allocate: true), ct);
        var secondary = first.Chunk.Replicas.First(r => r.ServerId != first.PrimaryId).ServerId;
        channel.Grants.Clear();

        var second = await leases.LeaseAsync(Request(failed: secondary), ct);

        Assert.Equal(2, second.Chunk.Version);
        Assert.Equal(first.PrimaryId, second.PrimaryId);
        Assert.DoesNotContain(second.Chunk.Replicas, r => r.ServerId == secondary);
        Assert.Equal(2, second.Chunk.Replicas.Count);
        Assert.All(channel.For(first.Chunk.Handle), g => Assert.Equal(2, g.Version));
        Assert.Equal(2, log.Version(first.Chunk.Handle));

        // The left-out replica is stale (version 1): the leader orders it deleted, naming that version.
        var orders = registry.Orders(secondary, h => (h.Select(log.Version).ToArray(), log.State.NextChunkHandle), leases.IsBusy);
        var delete = Assert.Single(orders);
        Assert.Equal((ChunkOrderKind.Delete, first.Chunk.Handle, 1L), (delete.Kind, delete.Handle, delete.Version));
    }

    [Fact]
    public async Task FailedButLivePrimary_NoNewPrimaryBeforeTheOldLeaseExpired()
    {
        // A client cannot reach the primary, but the primary still heartbeats: it may be serving others.
        var first = await leases.LeaseAsync(Request(allocate: true), ct);
        Advance(TimeSpan.FromSeconds(20));

        var pending = leases.LeaseAsync(Request(failed: first.PrimaryId), ct);
        Advance(TimeSpan.FromSeconds(35));
        await Task.Delay(100, ct); // let the request reach its wait (were it not waiting, it would finish here)
        Assert.False(pending.IsCompleted); // 55 s after the grant: the old primary may still hold its lease
        Assert.Equal(0, log.Bumps);

        Advance(TimeSpan.FromSeconds(10)); // past 60 s + 1 s grace
        var second = await pending.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.NotEqual(first.PrimaryId, second.PrimaryId);
        Assert.Equal(2, second.Chunk.Version);
        Assert.DoesNotContain(second.Chunk.Replicas, r => r.ServerId == first.PrimaryId);
    }

    [Fact]
    public async Task FailedPrimary_WaitLongerThanAllowed_IsUnavailable_UntilTheLeaseExpired()
    {
        var strictRegistry = new ChunkserverRegistry(clock, new DataPathOptions()); // waits at most 10 s
        var strict = new LeaseManager(log, strictRegistry, channel, clock);
        foreach (var s in Servers)
        {
            strictRegistry.Record(Of(s));
        }

        var first = await strict.LeaseAsync(Request(allocate: true), ct);
        var e = await Assert.ThrowsAsync<GfsException>(() => strict.LeaseAsync(Request(failed: first.PrimaryId), ct));
        Assert.Equal(ErrorCode.Unavailable, e.Code);
        Assert.Equal(0, log.Bumps);

        for (var i = 0; i < 13; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(5));
            foreach (var s in Servers.Where(s => s != first.PrimaryId))
            {
                strictRegistry.Record(Of(s, full: false));
            }
        }

        var second = await strict.LeaseAsync(Request(failed: first.PrimaryId), ct);
        Assert.NotEqual(first.PrimaryId, second.PrimaryId);
    }

    [Fact]
    public async Task Extension_FromTheLeader_KeepsTheLeaseLivePastItsFirstTerm()
    {
        var first = await leases.LeaseAsync(Request(allocate: true), ct);
        Advance(TimeSpan.FromSeconds(50));
        var reply = new HeartbeatReply();
        var held = new HeldLease { Handle = first.Chunk.Handle, Version = 1, RemainingMs = 10_000, WantsExtension = true };
        leases.OnHeartbeat(first.PrimaryId, [held], [1], registry.Now, reply);

        var extension = Assert.Single(reply.Extensions);
        Assert.Equal((first.Chunk.Handle, 1L, 60_000L), (extension.Handle, extension.Version, extension.LeaseMs));
        Assert.Empty(reply.Revoked);

        Advance(TimeSpan.FromSeconds(40)); // 90 s after the grant, 40 s after the extension
        var again = await leases.LeaseAsync(Request(), ct);
        Assert.Equal(1, again.Chunk.Version);
        Assert.Equal(0, log.Bumps);
        Assert.InRange(again.LeaseRemainingMs, 19_000, 20_000);
    }

    [Fact]
    public async Task NewLeader_AdoptsTheLeaseAPrimaryReports_AndWaitsForItBeforeAnotherPrimary()
    {
        var first = await leases.LeaseAsync(Request(allocate: true), ct);

        // Leadership moves: a new manager with its own registry learns the lease from heartbeats only.
        var newRegistry = new ChunkserverRegistry(clock, new DataPathOptions());
        var newLeader = new LeaseManager(log, newRegistry, channel, clock);
        newLeader.BecameLeader();
        foreach (var s in Servers)
        {
            var heartbeat = Of(s, chunks: first.Chunk.Replicas.Any(r => r.ServerId == s) ? [Chunk(first.Chunk.Handle, 1)] : []);
            if (s == first.PrimaryId)
            {
                heartbeat.Leases = [new HeldLease { Handle = first.Chunk.Handle, Version = 1, RemainingMs = 55_000 }];
            }

            newRegistry.Record(heartbeat);
        }

        var adopted = await newLeader.LeaseAsync(Request(), ct);
        Assert.Equal((first.PrimaryId, 1L), (adopted.PrimaryId, adopted.Chunk.Version));
        Assert.Equal(3, adopted.Chunk.Replicas.Count);
        Assert.Equal(0, log.Bumps);

        var e = await Assert.ThrowsAsync<GfsException>(() => newLeader.LeaseAsync(Request(failed: first.PrimaryId), ct));
        Assert.Equal(ErrorCode.Unavailable, e.Code);
    }

    [Fact]
    public async Task Heartbeat_AdoptsUnknownCurrentLease_RevokesStaleOrConflicting()
    {
        var first = await leases.LeaseAsync(Request(allocate: true), ct);
        var other = Servers.First(s => s != first.PrimaryId);
        log.State.Run(Create("/g"));
        log.State.Run(Allocate("/g", 0, 900));

        var fresh = new LeaseManager(log, registry, channel, clock);
        fresh.BecameLeader();
        var reply = new HeartbeatReply();
        fresh.OnHeartbeat(first.PrimaryId, [new HeldLease { Handle = first.Chunk.Handle, Version = 1, RemainingMs = 30_000 }], [1], registry.Now, reply);
        Assert.Empty(reply.Revoked);
        Assert.Equal(first.PrimaryId, fresh.Find(first.Chunk.Handle)?.PrimaryId);

        reply = new HeartbeatReply();
        fresh.OnHeartbeat(
            other,
            [
                new HeldLease { Handle = first.Chunk.Handle, Version = 1, RemainingMs = 30_000 }, // conflicts with the adopted one
                new HeldLease { Handle = 900, Version = 0, RemainingMs = 30_000 },                // below the current version
                new HeldLease { Handle = 12345, Version = 1, RemainingMs = 30_000 },              // unknown chunk
            ],
            [1, 1, 0],
            registry.Now,
            reply);
        Assert.Equal([first.Chunk.Handle, 900L, 12345L], reply.Revoked);
        Assert.Equal(first.PrimaryId, fresh.Find(first.Chunk.Handle)?.PrimaryId);
    }

    [Fact]
    public async Task PrimaryThatDoesNotAnswerTheGrant_IsNotHandedOut_AndBlocksOtherPrimaries()
    {
        var first = await leases.LeaseAsync(Request(allocate: true), ct);
        Advance(TimeSpan.FromSeconds(65));
        channel.Failing[first.PrimaryId] = true;

        var e = await Assert.ThrowsAsync<GfsException>(() => leases.LeaseAsync(Request(), ct));
        Assert.Equal(ErrorCode.Unavailable, e.Code);
        Assert.Equal(2, log.Version(first.Chunk.Handle));
        Assert.False(leases.Find(first.Chunk.Handle)!.Confirmed);

        // The silent primary may hold version 2's lease: another primary only after it would have expired.
        var pending = leases.LeaseAsync(Request(failed: first.PrimaryId), ct);
        Advance(TimeSpan.FromSeconds(50));
        Assert.False(pending.IsCompleted);
        Advance(TimeSpan.FromSeconds(15));
        var third = await pending.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.NotEqual(first.PrimaryId, third.PrimaryId);
        Assert.Equal(3, third.Chunk.Version);
    }

    [Fact]
    public async Task Allocation_WhosePrimaryFails_MovesToAnotherPrimaryAtVersion2()
    {
        channel.Failing["s1"] = true;
        channel.Failing["s2"] = true;
        channel.Failing["s3"] = true;
        var reply = await leases.LeaseAsync(Request(allocate: true), ct);
        Assert.Equal("s4", reply.PrimaryId);
        Assert.Equal(2, reply.Chunk.Version);
        Assert.Equal(["s4"], reply.Chunk.Replicas.Select(r => r.ServerId));
    }

    [Fact]
    public async Task CreateLeased_CreatesTheFileAndItsFirstChunkInOneEntry_AndReturnsTheLease()
    {
        var applied = log.Read(s => s.AppliedCommands);
        var (id, reply) = await leases.CreateAsync(7, 1, new Gfs.Master.Commands.CreateFileOp { Path = P("/g"), Goal = 3, ChunkSize = 1 << 20 }, "", ct);

        Assert.NotNull(reply);
        Assert.Equal(log.Read(s => s.StatOk("/g").Id), id);
        Assert.Equal(applied + 1, log.Read(s => s.AppliedCommands)); // one log entry for both
        Assert.Equal((0, 1L), (reply.Chunk.Index, reply.Chunk.Version));
        Assert.Equal(3, reply.Chunk.Replicas.Select(r => r.ServerId).Distinct().Count());
        Assert.All(channel.For(reply.Chunk.Handle), g => Assert.True(g.Create && g.Version == 1));
        Assert.Equal(1, log.Read(s => s.StatOk("/g").Count));

        // The same ids again (a retry after a lost reply): the first outcome, no second chunk, no lease in the reply.
        var retry = await leases.CreateAsync(7, 1, new Gfs.Master.Commands.CreateFileOp { Path = P("/g"), Goal = 3, ChunkSize = 1 << 20 }, "", ct);
        Assert.Null(retry.Lease);
        Assert.Equal(id, retry.Id);
        Assert.Equal(1, log.Read(s => s.StatOk("/g").Count));

        // A new create of the same path is refused and changes nothing.
        var exists = await Assert.ThrowsAsync<GfsException>(() => leases.CreateAsync(7, 2, new Gfs.Master.Commands.CreateFileOp { Path = P("/g"), Goal = 3 }, "", ct));
        Assert.Equal(ErrorCode.AlreadyExists, exists.Code);
        Assert.Equal(1, log.Read(s => s.StatOk("/g").Count));
    }

    [Fact]
    public async Task CreateLeased_WithoutAnyLiveChunkserver_CreatesTheFileAlone()
    {
        clock.Advance(TimeSpan.FromMinutes(5)); // every server's heartbeat is too old
        var (id, reply) = await leases.CreateAsync(7, 1, new Gfs.Master.Commands.CreateFileOp { Path = P("/h"), Goal = 3 }, "", ct);

        Assert.Null(reply);
        Assert.Equal(log.Read(s => s.StatOk("/h").Id), id);
        Assert.Equal(0, log.Read(s => s.StatOk("/h").Count));
        Assert.Empty(channel.Grants);
    }

    [Fact]
    public async Task Lease_NamingAFileThePathNoLongerHolds_IsRefusedWithFileReplaced_AndAllocatesNothing()
    {
        var opened = log.Read(s => s.StatOk("/f").Id);
        var first = Request(allocate: true);
        first.FileId = opened;
        await leases.LeaseAsync(first, ct);
        log.State.Run(Delete("/f"));
        log.State.Run(Create("/f", goal: 3, chunkSize: 1 << 20));

        var existing = Request();
        existing.FileId = opened;
        Assert.Equal(ErrorCode.FileReplaced, (await Assert.ThrowsAsync<GfsException>(() => leases.LeaseAsync(existing, ct))).Code);
        var allocation = Request(allocate: true);
        allocation.FileId = opened;
        Assert.Equal(ErrorCode.FileReplaced, (await Assert.ThrowsAsync<GfsException>(() => leases.LeaseAsync(allocation, ct))).Code);
        Assert.Equal(0, log.Read(s => s.StatOk("/f").Count));

        var current = Request(allocate: true);
        current.FileId = log.Read(s => s.StatOk("/f").Id);
        Assert.Equal(0, (await leases.LeaseAsync(current, ct)).Chunk.Index);
        Assert.Equal(1, log.Read(s => s.StatOk("/f").Count));
    }

    [Fact]
    public async Task Follower_RefusesLeases()
    {
        log.IsLeader = false;
        await Assert.ThrowsAsync<Gfs.Consensus.NotLeaderException>(() => leases.LeaseAsync(Request(allocate: true), ct));
    }
}
