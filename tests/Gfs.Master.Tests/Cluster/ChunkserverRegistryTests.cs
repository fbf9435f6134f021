using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Master.Cluster;
using Microsoft.Extensions.Time.Testing;
using static Gfs.Master.Tests.Cluster.Heartbeats;

namespace Gfs.Master.Tests.Cluster;

public class ChunkserverRegistryTests
{
    private readonly FakeTimeProvider clock = new();
    private readonly ChunkserverRegistry registry;

    public ChunkserverRegistryTests() => registry = new ChunkserverRegistry(clock, new DataPathOptions());

    [Fact]
    public void UnknownServer_IsAskedForAFullReport_UntilItSendsOne()
    {
        Assert.True(registry.Record(Of("a", full: false)));
        Assert.False(registry.Record(Of("a", full: true)));
        Assert.False(registry.Record(Of("a", full: false)));
    }

    [Fact]
    public void RestartedServer_IsAskedForAFullReport()
    {
        registry.Record(Of("a", started: 1));
        Assert.True(registry.Record(Of("a", full: false, started: 2)));
        Assert.False(registry.Record(Of("a", full: true, started: 2)));
    }

    [Fact]
    public void FullReport_ReplacesTheServersReplicas_IncrementalAppliesChanges()
    {
        registry.Record(Of("a", chunks: [Chunk(1, 1, 10), Chunk(2, 1, 20)]));
        registry.Record(Of("a", chunks: [Chunk(2, 1, 20), Chunk(3, 1, 30)]));
        Assert.Empty(registry.Locations(1, 1, null, out _));
        Assert.Single(registry.Locations(3, 1, null, out var length));
        Assert.Equal(30, length);

        var changes = Of("a", full: false, chunks: [Chunk(3, 2, 35)]);
        changes.Deleted = [2];
        registry.Record(changes);
        Assert.Empty(registry.Locations(2, 1, null, out _));
        Assert.Empty(registry.Locations(3, 1, null, out _));
        Assert.Single(registry.Locations(3, 2, null, out length));
        Assert.Equal(35, length);
    }

    [Fact]
    public void FullReportInParts_ReplacesTheReplicasAtTheLastPart_AndAGapAsksForItAgain()
    {
        registry.Record(Of("a", chunks: [Chunk(1, 1), Chunk(2, 1)]));

        HeartbeatRequest Part(int part, bool more, params long[] handles)
        {
            var heartbeat = Of("a", chunks: [.. handles.Select(h => Chunk(h, 1))]);
            heartbeat.FullReportPart = part;
            heartbeat.FullReportMore = more;
            return heartbeat;
        }

        Assert.False(registry.Record(Part(0, more: true, 3, 4)));
        Assert.Single(registry.Locations(1, 1, null, out _)); // the old report stands until the last part
        Assert.Empty(registry.Locations(3, 1, null, out _));
        Assert.False(registry.Record(Part(1, more: true, 5)));
        Assert.False(registry.Record(Part(2, more: false, 6)));
        Assert.Equal([3L, 4, 5, 6], registry.ReplicasOf("a").Keys.Order());

        // Part 1 goes missing: nothing changes, and the master asks for the full report again.
        Assert.False(registry.Record(Part(0, more: true, 7)));
        Assert.True(registry.Record(Part(2, more: false, 8)));
        Assert.Equal([3L, 4, 5, 6], registry.ReplicasOf("a").Keys.Order());
        Assert.True(registry.Record(Of("a", full: false))); // still asking
        Assert.False(registry.Record(Part(0, more: false, 9)));
        Assert.Equal([9L], registry.ReplicasOf("a").Keys);
    }

    [Fact]
    public void Locations_OnlyUpToDateLiveReplicas_NearestThenLeastBusy_WithTheLargestLength()
    {
        registry.Record(Of("a", active: 5, chunks: Chunk(7, 3, 100)));
        registry.Record(Of("b", active: 1, chunks: Chunk(7, 3, 120)));
        registry.Record(Of("c", active: 9, chunks: Chunk(7, 3, 90)));
        registry.Record(Of("stale", chunks: Chunk(7, 2, 500)));

        var replicas = registry.Locations(7, 3, "c.test", out var length);
        Assert.Equal(["c", "b", "a"], replicas.Select(r => r.ServerId));
        Assert.Equal(120, length);
        Assert.Equal(["b", "a", "c"], registry.Locations(7, 3, "", out _).Select(r => r.ServerId));
    }

    [Fact]
    public void ServerWithoutHeartbeat_IsDeadAfterTenSeconds_AndLeavesLocations()
    {
        registry.Record(Of("a", chunks: Chunk(7, 1)));
        registry.Record(Of("b", chunks: Chunk(7, 1)));
        clock.Advance(TimeSpan.FromSeconds(6));
        registry.Record(Of("b", full: false));
        clock.Advance(TimeSpan.FromSeconds(4.5));

        Assert.False(registry.IsLive("a"));
        Assert.True(registry.IsLive("b"));
        Assert.Equal(["b"], registry.Locations(7, 1, null, out _).Select(r => r.ServerId));
        var status = registry.Status();
        Assert.True(status.Single(s => s.ServerId == "a").Dead);
        Assert.Equal(10_500, status.Single(s => s.ServerId == "a").LastHeartbeatMsAgo);
        Assert.False(status.Single(s => s.ServerId == "b").Dead);
    }

    [Fact]
    public void BadReplica_IsHiddenUntilItReportsAgainAfterAVerifyOrder()
    {
        registry.Record(Of("a", chunks: Chunk(7, 1)));
        registry.Record(Of("b", chunks: Chunk(7, 1)));
        registry.MarkBad(7, "a");
        Assert.Equal(["b"], registry.Locations(7, 1, null, out _).Select(r => r.ServerId));

        // Reported again before the Verify was ordered: still bad.
        registry.Record(Of("a", full: false, chunks: Chunk(7, 1)));
        Assert.Equal(["b"], registry.Locations(7, 1, null, out _).Select(r => r.ServerId));

        var orders = registry.Orders("a", h => (h.Select(_ => 1L).ToArray(), 100), _ => false);
        var verify = Assert.Single(orders);
        Assert.Equal((Gfs.Client.Protocol.Chunk.ChunkOrderKind.Verify, 7L), (verify.Kind, verify.Handle));

        registry.Record(Of("a", full: false, chunks: Chunk(7, 1)));
        Assert.Equal(2, registry.Locations(7, 1, null, out _).Count);
    }

    [Fact]
    public void VerifyOrders_GoOutOnce_OnlyForReplicasStillBad_WithoutAScanDue()
    {
        var registry = new ChunkserverRegistry(clock, new DataPathOptions { OrderScanInterval = TimeSpan.FromHours(1) });
        registry.Record(Of("a", chunks: [Chunk(7, 1), Chunk(8, 1), Chunk(9, 1)]));
        registry.Record(Of("b", chunks: [Chunk(7, 1), Chunk(8, 1), Chunk(9, 1)]));
        Func<IReadOnlyList<long>, (long[], long)> versions = h => (h.Select(_ => 1L).ToArray(), 100);
        Assert.Empty(registry.Orders("a", versions, _ => false)); // the scan after the full report finds nothing

        registry.MarkBad(7, "a");
        registry.MarkBad(7, "a"); // reported twice: one order
        registry.MarkBad(8, "a");
        registry.MarkBad(9, "b");
        registry.MarkBad(42, "a"); // a replica the master does not know of: nothing to verify

        // Replica 8 is deleted before the next heartbeat's orders: no Verify for it.
        var gone = Of("a", full: false);
        gone.Deleted = [8];
        registry.Record(gone);

        var orders = registry.Orders("a", versions, _ => false);
        Assert.Equal([(Gfs.Client.Protocol.Chunk.ChunkOrderKind.Verify, 7L)], orders.Select(o => (o.Kind, o.Handle)));
        Assert.Empty(registry.Orders("a", versions, _ => false));
        Assert.Equal([9L], registry.Orders("b", versions, _ => false).Select(o => o.Handle));
        Assert.Equal(["b"], registry.Locations(7, 1, null, out _).Select(r => r.ServerId));
    }

    [Fact]
    public void Placement_PicksDistinctServers_OnePerRackFirst()
    {
        registry.Record(Of("a1", rack: "a", free: 190L << 30));
        registry.Record(Of("a2", rack: "a", free: 180L << 30));
        registry.Record(Of("b1", rack: "b", free: 50L << 30));
        registry.Record(Of("c1", rack: "c", free: 40L << 30));

        var placed = registry.Place(3, 64 << 20);
        Assert.Equal(3, placed.Select(p => p.ServerId).Distinct().Count());
        Assert.Equal(["a", "b", "c"], placed.Select(p => p.Rack).Order());
        Assert.Equal("a1", placed[0].ServerId);
    }

    [Fact]
    public void Placement_PrefersMoreFreeSpace_AndSpreadsThroughRecentCreations()
    {
        registry.Record(Of("full", free: 10L << 30));
        registry.Record(Of("empty1", free: 180L << 30));
        registry.Record(Of("empty2", free: 170L << 30));

        var first = registry.Place(1, 64 << 20).Single().ServerId;
        Assert.Equal("empty1", first);

        // Recent creations on empty1 make empty2 the better choice for a while.
        var next = Enumerable.Range(0, 4).Select(_ => registry.Place(1, 64 << 20).Single().ServerId).ToList();
        Assert.Contains("empty2", next);
        Assert.DoesNotContain("full", next);
    }

    [Fact]
    public void Placement_SkipsFullAndDeadServers_PlacesOnFewerThanAsked_AndFailsWithNone()
    {
        registry.Record(Of("tiny", free: 1 << 20));
        registry.Record(Of("dead"));
        clock.Advance(TimeSpan.FromSeconds(11));
        registry.Record(Of("tiny", free: 1 << 20, full: false));
        registry.Record(Of("ok"));

        Assert.Equal(["ok"], registry.Place(3, 64 << 20).Select(p => p.ServerId));
        var e = Assert.Throws<GfsException>(() => registry.Place(3, 64 << 20, exclude: ["ok"]));
        Assert.Equal(ErrorCode.Unavailable, e.Code);
    }

    [Fact]
    public void Orders_DeleteStaleAndOrphanReplicas_OnceEvery30Seconds()
    {
        registry.Record(Of("a", chunks: [Chunk(7, 1), Chunk(8, 2), Chunk(50, 1), Chunk(500, 1)]));
        registry.Record(Of("b", chunks: [Chunk(7, 2), Chunk(8, 2)]));

        // State: 7 at version 2, 8 at version 2; 50 unknown below the next handle (orphan); 500 unknown above it (not yet known).
        (long[], long) Versions(IReadOnlyList<long> handles) => (handles.Select(h => h switch { 7 => 2L, 8 => 2L, _ => 0L }).ToArray(), 100);

        var orders = registry.Orders("a", Versions, _ => false).OrderBy(o => o.Handle).ToList();
        Assert.Equal([(7L, 1L), (50L, 1L)], orders.Select(o => (o.Handle, o.Version)));
        Assert.All(orders, o => Assert.Equal(Gfs.Client.Protocol.Chunk.ChunkOrderKind.Delete, o.Kind));

        clock.Advance(TimeSpan.FromSeconds(6));
        Assert.Empty(registry.Orders("a", Versions, _ => false));
        clock.Advance(TimeSpan.FromSeconds(25));
        registry.Record(Of("b", full: false)); // b stays alive: its copy is the up-to-date one
        Assert.Equal(2, registry.Orders("a", Versions, _ => false).Count);

        // Nothing for the up-to-date server, and nothing while a lease decision is in flight.
        Assert.Empty(registry.Orders("b", Versions, _ => false));
        clock.Advance(TimeSpan.FromSeconds(31));
        registry.Record(Of("b", full: false));
        // A stale replica whose chunk has a lease decision in flight is fenced (no reads), not deleted.
        Assert.Equal(
            [(Gfs.Client.Protocol.Chunk.ChunkOrderKind.Fence, 7L, 1L), (Gfs.Client.Protocol.Chunk.ChunkOrderKind.Delete, 50L, 1L)],
            registry.Orders("a", Versions, h => h == 7).OrderBy(o => o.Handle).Select(o => (o.Kind, o.Handle, o.Version)));
    }

    [Fact]
    public void Orders_KeepTheLastStaleCopies_WhenNoUpToDateReplicaLives_ButFenceThemFromReads()
    {
        registry.Record(Of("a", chunks: Chunk(7, 1)));
        var fence = Assert.Single(registry.Orders("a", h => (h.Select(_ => 2L).ToArray(), 100), _ => false, out var scanned));
        Assert.Equal((Gfs.Client.Protocol.Chunk.ChunkOrderKind.Fence, 7L, 1L), (fence.Kind, fence.Handle, fence.Version));
        Assert.True(scanned);
    }

    [Fact]
    public void AScanCountsAsAChecked_OnlyOnTheFullReportOfTheServersCurrentStart()
    {
        Func<IReadOnlyList<long>, (long[], long)> versions = h => (h.Select(_ => 1L).ToArray(), 100);
        registry.Record(Of("a", started: 1, chunks: Chunk(7, 1)));
        registry.Orders("a", versions, _ => false, out var scanned);
        Assert.True(scanned);

        // Restarted: until its new full report arrives, a scan would check the old start's replicas.
        registry.Record(Of("a", started: 2, full: false));
        clock.Advance(TimeSpan.FromSeconds(6));
        registry.Orders("a", versions, _ => false, out scanned);
        Assert.False(scanned);

        registry.Record(Of("a", started: 2, chunks: Chunk(7, 1)));
        registry.Orders("a", versions, _ => false, out scanned);
        Assert.True(scanned);
    }
}
