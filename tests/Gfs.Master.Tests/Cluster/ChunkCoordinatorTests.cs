using Gfs.Client.Protocol.Chunk;
using Gfs.Master.Cluster;
using Gfs.Testing;
using Microsoft.Extensions.Time.Testing;
using static Gfs.Master.Tests.Cluster.Heartbeats;
using static Gfs.Master.Tests.State.Ops;

namespace Gfs.Master.Tests.Cluster;

public class ChunkCoordinatorTests
{
    private readonly FakeTimeProvider clock = new();
    private readonly FakeMasterLog log = new();
    private readonly ChunkCoordinator coordinator;

    public ChunkCoordinatorTests()
    {
        var registry = new ChunkserverRegistry(clock, new DataPathOptions());
        coordinator = new ChunkCoordinator(log, registry, new LeaseManager(log, registry, new FakeChannel(), clock));
        log.State.Run(Create("/f"));
        log.State.Run(Allocate("/f", 0, 5));
        log.State.Run(Bump(5, 1));
    }

    [Fact]
    public async Task Follower_RecordsHeartbeats_ButGivesNoOrders()
    {
        log.IsLeader = false;
        coordinator.Heartbeat(Of("b", chunks: Chunk(5, 2)));
        var reply = coordinator.Heartbeat(Of("a", chunks: [Chunk(5, 1), Chunk(3, 1)]));
        Assert.False(reply.IsLeader);
        Assert.Empty(reply.Orders);
        Assert.Equal(2, coordinator.Registry.Status().Count);

        log.IsLeader = true;
        var orders = new List<ChunkOrder>();
        await Retry.Until("the leader orders after its read barrier", () =>
        {
            var r = coordinator.Heartbeat(Of("a", full: false));
            orders.AddRange(r.Orders);
            return Task.FromResult(r.IsLeader && orders.Count > 0);
        }, TimeSpan.FromSeconds(10));
        Assert.Equal([(3L, 1L), (5L, 1L)], orders.Select(o => (o.Handle, o.Version)).Order());
        Assert.All(orders, o => Assert.Equal(ChunkOrderKind.Delete, o.Kind));
    }

    [Fact]
    public async Task GetChunks_ListsUpToDateReplicas_WithVersionAndLength()
    {
        coordinator.Heartbeat(Of("a", chunks: Chunk(5, 2, 4096)));
        coordinator.Heartbeat(Of("b", chunks: Chunk(5, 1, 9999)));
        var reply = await coordinator.GetChunksAsync(new GetChunksRequest { Path = P("/f") }, TestContext.Current.CancellationToken);
        var chunk = Assert.Single(reply.Chunks);
        Assert.Equal((5L, 2L, 4096L), (chunk.Handle, chunk.Version, chunk.Length));
        Assert.Equal(["a"], chunk.Replicas.Select(r => r.ServerId));
        Assert.Equal(1, reply.Attributes.Count);
    }

    [Fact]
    public async Task ChecksumMismatchReport_HidesTheReplica_AndOrdersAVerify()
    {
        coordinator.Heartbeat(Of("a", chunks: Chunk(5, 2)));
        coordinator.Heartbeat(Of("b", chunks: Chunk(5, 2)));
        await coordinator.ReportReplicaAsync(new ReportReplicaRequest { Handle = 5, Version = 2, ServerId = "a", Problem = ReplicaProblem.ChecksumMismatch }, TestContext.Current.CancellationToken);
        Assert.Equal(["b"], coordinator.Registry.Locations(5, 2, null, out _).Select(r => r.ServerId));

        var verify = new List<ChunkOrder>();
        await Retry.Until("a Verify order", () =>
        {
            verify.AddRange(coordinator.Heartbeat(Of("a", full: false)).Orders);
            return Task.FromResult(verify.Count > 0);
        }, TimeSpan.FromSeconds(10));
        Assert.Equal((ChunkOrderKind.Verify, 5L), (verify[0].Kind, verify[0].Handle));
    }
}
