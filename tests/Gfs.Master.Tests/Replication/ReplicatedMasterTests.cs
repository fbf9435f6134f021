using Gfs.Client.Protocol;
using Gfs.Master.Commands;
using Gfs.Master.State;
using Gfs.Master.Tests.State;
using Gfs.Testing;

namespace Gfs.Master.Tests.Replication;

public class ReplicatedMasterTests
{
    [Fact]
    public async Task RetryAfterLeaderChange_IsAppliedOnce()
    {
        await using var cluster = new InProcessMasterCluster { WalChunkSizeMiB = 1 };
        await cluster.StartAllAsync();
        var first = await cluster.ExecuteAsync(clientId: 42, requestId: 1, Ops.Create("/once"));
        Assert.Equal(ErrorCode.Ok, first.Code);
        var allocation = await cluster.ExecuteAsync(clientId: 42, requestId: 2, Ops.Allocate("/once", 0, 1000, "cs-a", "cs-b"));
        Assert.Equal(ErrorCode.Ok, allocation.Code);

        // The client never saw the answers (say), the leader dies, the client retries on the new leader.
        var old = await cluster.LeaderAsync();
        await cluster.StopAsync(old);
        var retryCreate = await cluster.ExecuteAsync(clientId: 42, requestId: 1, Ops.Create("/once"));
        var retryAllocate = await cluster.ExecuteAsync(clientId: 42, requestId: 2, Ops.Allocate("/once", 0, 1001, "cs-c"));
        Assert.True(retryCreate.Replayed);
        Assert.Equal(ErrorCode.Ok, retryCreate.Code);
        Assert.True(retryAllocate.Replayed);
        Assert.Equal(1000, retryAllocate.Value);
        Assert.Equal(["cs-a", "cs-b"], retryAllocate.Replicas!);

        var leader = await cluster.LeaderAsync();
        var (files, chunks) = await cluster.Replica(leader).ReadAsync(s => (s.FileCount, s.ChunkCount));
        Assert.Equal((1, 1), (files, chunks));
    }

    [Fact]
    public async Task EveryReplica_ReachesTheSameStateHash()
    {
        await using var cluster = new InProcessMasterCluster { WalChunkSizeMiB = 1, SnapshotLogBytes = 16 * 1024 };
        await cluster.StartAllAsync();
        var generator = new CommandGenerator(5);
        for (var round = 0; round < 20; round++)
        {
            await Task.WhenAll(Enumerable.Range(0, 25).Select(_ =>
            {
                var command = generator.Next();
                return cluster.ExecuteAsync(command.ClientId, command.RequestId, command.Op!);
            }));
        }

        var leader = await cluster.LeaderAsync();
        var index = cluster.Replica(leader).Master.AppliedIndex;
        await cluster.AllAppliedAsync(index);
        var hashes = Enumerable.Range(0, 3).Select(i => cluster.Replica(i).Master.Read(s => s.ComputeStateHash())).ToArray();
        Assert.Equal(hashes[0], hashes[1]);
        Assert.Equal(hashes[0], hashes[2]);
    }

    [Fact]
    public async Task NewChunkHandles_AreUniqueAcrossConcurrentAllocations()
    {
        await using var cluster = new InProcessMasterCluster { WalChunkSizeMiB = 1 };
        await cluster.StartAllAsync();
        var leader = await cluster.LeaderAsync();
        var replica = cluster.Replica(leader);
        await replica.ExecuteAsync(0, 0, new BatchOp { Ops = [.. Enumerable.Range(0, 50).Select(i => (MasterOp)Ops.Create($"/f{i}"))] });
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            replica.ExecuteAsync(7, i + 1, Ops.Allocate($"/f{i}", 0, replica.NewChunkHandle()))));
        Assert.All(results, r => Assert.Equal(ErrorCode.Ok, r.Code));
        Assert.Equal(50, results.Select(r => r.Value).Distinct().Count());
        Assert.Equal(50, await replica.ReadAsync(s => s.ChunkCount));
        var stat = await replica.ReadAsync(s => s.Stat("/f3", out var info) == ErrorCode.Ok ? info : default);
        Assert.Equal(1, stat.Count);
        Assert.Equal(InodeKind.File, stat.Kind);
    }
}
