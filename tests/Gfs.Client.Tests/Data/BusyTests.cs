using Gfs.Client.Data;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;

namespace Gfs.Client.Tests.Data;

/// <summary>A chunkserver that is busy (full push buffer, too many mutations waiting) is waited for, never dropped.</summary>
public sealed class BusyTests
{
    private const int ChunkSize = 256 * 1024;

    [Fact]
    public void Busy_IsTransient_AndRetriedWithoutBlamingTheServer()
    {
        var busy = new GfsException(ErrorCode.Busy, "too many mutations waiting");
        Assert.True(busy.IsTransient);
        Assert.Equal(FailureAction.Release, Retry.OnChunkserverError(busy));
    }

    [Fact]
    public async Task Write_WhenAServerDownTheChainIsBusy_PushesAgainToTheSameReplicas()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", ChunkSize);
        var refusals = 2;
        cluster.Fault = (route, server) => route == ChunkRoutes.Push && server.Id == "cs2" && Interlocked.Decrement(ref refusals) >= 0
            ? new GfsException(ErrorCode.Busy, "push buffer full")
            : null;
        var data = TestData.Random(50_000, seed: 21); // one piece: one push per attempt

        await using (var writer = new FileWriter(TestData.Core(cluster), "/f", cluster.Id("/f"), ChunkSize, 0))
        {
            await writer.WriteAsync(data, TestContext.Current.CancellationToken);
        }

        Assert.Equal(3, cluster.PushTargets.Count); // two refused by the busy hop, then the one that took
        Assert.All(cluster.LeaseCalls, c => Assert.Empty(c.Failed));
        var chunk = cluster.Chunk("/f", 0);
        Assert.Equal(1, chunk.Version);
        Assert.Equal(["cs0", "cs1", "cs2"], chunk.Replicas.Select(s => s.Id));
        foreach (var server in cluster.Servers)
        {
            Assert.Equal(data, TestData.FileOn(cluster, "/f", server));
        }
    }

    [Theory]
    [InlineData(ChunkRoutes.Push)]
    [InlineData(ChunkRoutes.Write)]
    public async Task Write_WhenTheFirstHopOrThePrimaryAnswersBusy_RetriesWithoutDroppingIt(string route)
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", ChunkSize);
        var refusals = 2;
        cluster.Fault = (r, server) => r == route && server.Id == "cs0" && Interlocked.Decrement(ref refusals) >= 0
            ? new GfsException(ErrorCode.Busy, "busy")
            : null;
        var data = TestData.Random(50_000, seed: 22);

        await using (var writer = new FileWriter(TestData.Core(cluster), "/f", cluster.Id("/f"), ChunkSize, 0))
        {
            await writer.WriteAsync(data, TestContext.Current.CancellationToken);
        }

        Assert.Equal(-1, Volatile.Read(ref refusals)); // two refusals, then the call that went through
        Assert.All(cluster.LeaseCalls, c => Assert.Empty(c.Failed));
        var chunk = cluster.Chunk("/f", 0);
        Assert.Equal(1, chunk.Version);
        Assert.Equal("cs0", chunk.Primary!.Id);
        foreach (var server in cluster.Servers)
        {
            Assert.Equal(data, TestData.FileOn(cluster, "/f", server));
        }
    }
}
