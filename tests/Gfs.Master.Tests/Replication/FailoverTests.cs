using System.Collections.Concurrent;
using Gfs.Client.Protocol;
using Gfs.Master.Commands;
using Gfs.Master.Tests.State;
using Gfs.Testing;

namespace Gfs.Master.Tests.Replication;

public class FailoverTests
{
    /// <summary>
    /// In-process version of the chaos test (the real one kills `gfs master` processes):
    /// 16 clients create files while the leader is stopped and restarted 10 times; every client
    /// retries with the same request id until answered. Every acknowledged create must be on every
    /// replica, and no create may be applied twice (a client would then see AlreadyExists for its
    /// own file). Then all three stop and start: nothing acknowledged is lost.
    /// </summary>
    [Fact]
    public async Task ClientsCreateWhileTheLeaderIsRestarted_NothingLostNothingTwice()
    {
        const int Clients = 16;
        const int PerClient = 120;
        const int Restarts = 10;
        await using var cluster = new InProcessMasterCluster { WalChunkSizeMiB = 1, SnapshotLogBytes = 32 * 1024 };
        await cluster.StartAllAsync();

        var acknowledged = new ConcurrentBag<string>();
        var violations = new ConcurrentBag<string>();
        var replays = 0;
        var restarts = 0;
        Task? chaos = null;

        async Task Client(int c)
        {
            await Execute(c, 1, Ops.Mkdir($"/c{c}", parents: true));
            // Keep creating until this client's share is done and every restart has happened.
            for (var i = 0; i < PerClient || chaos is not { IsCompleted: true }; i++)
            {
                var path = $"/c{c}/f{i}";
                var result = await Execute(c, i + 2, Ops.Create(path));
                if (result.Code == ErrorCode.Ok)
                {
                    acknowledged.Add(path);
                    if (result.Replayed)
                    {
                        Interlocked.Increment(ref replays);
                    }
                }
                else
                {
                    violations.Add($"{path}: {result}");
                }
            }
        }

        async Task<CommandResult> Execute(int client, long requestId, MasterOp op)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (true)
            {
                try
                {
                    var leader = await cluster.LeaderAsync();
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                    return await cluster.Replica(leader).ExecuteAsync(1000 + client, requestId, op, timeout.Token);
                }
                catch (Exception) when (DateTime.UtcNow < deadline)
                {
                    // not the leader, leader stopping, timeout: the outcome is unknown, retry the same request id
                    await Task.Delay(20);
                }
            }
        }

        async Task Chaos()
        {
            for (var k = 0; k < Restarts; k++)
            {
                await Task.Delay(150);
                var leader = await cluster.LeaderAsync();
                await cluster.StopAsync(leader);
                await cluster.LeaderAsync();
                await cluster.StartAsync(leader);
                Interlocked.Increment(ref restarts);
            }
        }

        chaos = Chaos();
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(Client));
        await chaos;

        TestContext.Current.TestOutputHelper?.WriteLine($"{acknowledged.Count} creates acknowledged, {replays} answered from the exactly-once table, {restarts} leader restarts");
        Assert.Empty(violations);
        Assert.Equal(Restarts, restarts);
        Assert.True(acknowledged.Count >= Clients * PerClient);
        await AssertEveryReplicaHasAsync(cluster, acknowledged);

        for (var i = 0; i < 3; i++)
        {
            await cluster.StopAsync(i);
        }

        await cluster.StartAllAsync();
        await AssertEveryReplicaHasAsync(cluster, acknowledged);
    }

    private static async Task AssertEveryReplicaHasAsync(InProcessMasterCluster cluster, IReadOnlyCollection<string> paths)
    {
        var leader = await cluster.LeaderAsync();
        await cluster.Replica(leader).ExecuteAsync(0, 0, new NoopOp());
        await cluster.AllAppliedAsync(cluster.Replica(leader).Master.AppliedIndex);
        var files = await cluster.Replica(leader).ReadAsync(s => s.FileCount);
        Assert.Equal(paths.Count, files);
        var hashes = new ulong[3];
        for (var i = 0; i < 3; i++)
        {
            var missing = cluster.Replica(i).Master.Read(s => paths.Where(p => s.Stat(p, out _) != ErrorCode.Ok).ToList());
            Assert.Empty(missing);
            hashes[i] = cluster.Replica(i).Master.Read(s => s.ComputeStateHash());
        }

        Assert.Equal(hashes[0], hashes[1]);
        Assert.Equal(hashes[0], hashes[2]);
    }
}
