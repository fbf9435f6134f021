using System.Collections.Concurrent;
using Gfs.Client.Protocol;
using Gfs.Consensus;
using Gfs.Master.Commands;
using Gfs.Master.Tests.State;
using Gfs.Testing;

namespace Gfs.Master.Tests.Replication;

public class FailoverTests
{
    /// <summary>
    /// In-process version of the real-process failover test (which SIGKILLs `gfs master` processes):
    /// 16 clients create files while the leader is crashed (disposed without a graceful stop) and
    /// restarted 10 times. A client retries with the same request id only on what means "retry":
    /// NotLeader, a timeout of its call, or a failure of a call that was in flight on the replica
    /// that crashed (the outcome is unknown); any other error fails the test. Every acknowledged
    /// create must be on every replica, and no create may be applied twice (a client would then see
    /// AlreadyExists for its own file). Then all three crash and start: nothing acknowledged is lost.
    /// </summary>
    [Fact]
    public async Task ClientsCreateWhileTheLeaderCrashesAndRestarts_NothingLostNothingTwice()
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
        var crashes = 0;
        var notLeader = 0;
        var unknown = 0;
        var crashedDuringCall = 0;
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
                var crashesBefore = Volatile.Read(ref crashes);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                try
                {
                    var leader = await cluster.LeaderAsync();
                    var replica = cluster.TryReplica(leader) ?? throw new NotLeaderException(null, outcomeUnknown: false);
                    return await replica.ExecuteAsync(1000 + client, requestId, op, timeout.Token);
                }
                catch (NotLeaderException e)
                {
                    Interlocked.Increment(ref e.OutcomeUnknown ? ref unknown : ref notLeader);
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested)
                {
                    Interlocked.Increment(ref unknown); // timed out: the outcome is unknown
                }
                catch (Exception) when (Volatile.Read(ref crashes) != crashesBefore)
                {
                    // The replica called (or looked up) crashed during the call: the outcome is unknown.
                    Interlocked.Increment(ref crashedDuringCall);
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"client {client} request {requestId} was not answered within 60 s");
                }

                await Task.Delay(20);
            }
        }

        async Task Chaos()
        {
            for (var k = 0; k < Restarts; k++)
            {
                await Task.Delay(150);
                var leader = await cluster.LeaderAsync();
                Interlocked.Increment(ref crashes);
                await cluster.CrashAsync(leader);
                await cluster.LeaderAsync();
                await cluster.StartAsync(leader);
                Interlocked.Increment(ref restarts);
            }
        }

        chaos = Chaos();
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(Client));
        await chaos;

        TestContext.Current.TestOutputHelper?.WriteLine($"{acknowledged.Count} creates acknowledged, {replays} answered from the exactly-once table, {restarts} leader crashes; retries: {notLeader} not leader, {unknown} outcome unknown, {crashedDuringCall} failed as the replica crashed");
        Assert.Empty(violations);
        Assert.Equal(Restarts, restarts);
        await AssertEveryReplicaHasAsync(cluster, acknowledged);

        Interlocked.Increment(ref crashes);
        for (var i = 0; i < 3; i++)
        {
            await cluster.CrashAsync(i);
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
