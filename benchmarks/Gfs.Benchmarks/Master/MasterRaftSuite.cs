using System.Diagnostics;
using System.Globalization;
using Gfs.Consensus;
using Gfs.Master.Commands;
using Gfs.Testing;
using Microsoft.Extensions.Logging;

namespace Gfs.Benchmarks.Master;

/// <summary>
/// Three master replicas in this process over cleartext HTTP/2 on loopback (Raft only, no client RPC layer):
/// creates/s with 1 and 64 concurrent proposers, batched creates, linearizable stats/s, and the time from
/// stopping the leader to the next acknowledged create. Usage: <c>master-raft [seconds=5] [failovers=5]</c>.
/// </summary>
public sealed class MasterRaftSuite : IBenchmarkSuite
{
    /// <summary>GFS_BENCH_LOG=Information (or another level) shows the replicas' logs.</summary>
    internal static LogLevel? BenchLogLevel => Environment.GetEnvironmentVariable("GFS_BENCH_LOG") is { Length: > 0 } level ? Enum.Parse<LogLevel>(level) : null;

    public string Name => "master-raft";

    public string Description => "3 in-process master replicas over HTTP/2: proposals/s, batches, reads, failover";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        var failovers = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        var root = Path.Combine(Path.GetTempPath(), $"gfs-master-raft-{Environment.ProcessId}");
        var cluster = new InProcessMasterCluster(root) { LogLevel = BenchLogLevel };
        try
        {
            await cluster.StartAllAsync();
            var leader = await cluster.LeaderAsync(cancellationToken);
            await cluster.Replica(leader).ExecuteAsync(0, 0, new MakeDirectoryOp { Path = "/b"u8.ToArray() }, cancellationToken);

            var counter = 0L;
            async Task<double> Rate(string what, int workers, Func<long, Task<int>> op)
            {
                var stop = DateTime.UtcNow.AddSeconds(seconds);
                var done = 0L;
                var watch = Stopwatch.StartNew();
                await Task.WhenAll(Enumerable.Range(0, workers).Select(async _ =>
                {
                    while (DateTime.UtcNow < stop)
                    {
                        Interlocked.Add(ref done, await op(Interlocked.Increment(ref counter)));
                    }
                }));
                var rate = done / watch.Elapsed.TotalSeconds;
                Console.WriteLine($"{what,-44} {rate,10:N0} ops/s");
                return rate;
            }

            var replica = cluster.Replica(leader);
            Task<int> Create(long i) => replica.ExecuteAsync(1, i, new CreateFileOp { Path = System.Text.Encoding.UTF8.GetBytes($"/b/f{i}"), Goal = 3 }, cancellationToken).ContinueWith(_ => 1, TaskScheduler.Default);
            await Rate("create, 1 proposer", 1, Create);
            await Rate("create, 64 proposers", 64, Create);
            await Rate("create, 64 proposers x batch of 100", 64, async i =>
            {
                var ops = Enumerable.Range(0, 100).Select(j => (MasterOp)new CreateFileOp { Path = System.Text.Encoding.UTF8.GetBytes($"/b/g{i}-{j}"), Goal = 3 }).ToArray();
                await replica.ExecuteAsync(2, i, new BatchOp { Ops = ops }, cancellationToken);
                return 100;
            });
            await Rate("stat after read barrier, 64 readers", 64, async i =>
            {
                await replica.ReadAsync(s => s.Stat("/b", out _), cancellationToken);
                return 1;
            });

            var times = new List<double>();
            for (var k = 0; k < failovers; k++)
            {
                var old = await cluster.LeaderAsync(cancellationToken);
                var watch = Stopwatch.StartNew();
                var stopping = cluster.StopAsync(old);
                while (true)
                {
                    var current = Enumerable.Range(0, 3).FirstOrDefault(i => i != old && cluster.Running(i) && cluster.Replica(i).Raft.IsLeader, -1);
                    if (current >= 0)
                    {
                        try
                        {
                            await cluster.Replica(current).ExecuteAsync(3, Interlocked.Increment(ref counter), new CreateFileOp { Path = System.Text.Encoding.UTF8.GetBytes($"/b/fo{k}"), Goal = 3 }, cancellationToken);
                            break;
                        }
                        catch (NotLeaderException)
                        {
                        }
                    }

                    await Task.Delay(5, cancellationToken);
                }

                times.Add(watch.Elapsed.TotalMilliseconds);
                await stopping;
                await cluster.StartAsync(old);
            }

            if (times.Count > 0)
            {
                Console.WriteLine($"failover (graceful stop of the leader -> next acknowledged create), {times.Count} runs: p50 {Stats.Median(times):F0} ms, p99 {Stats.Percentile(times, 99):F0} ms, max {times.Max():F0} ms");
            }
        }
        finally
        {
            await cluster.DisposeAsync();
            Directory.Delete(root, recursive: true);
        }

        return 0;
    }
}
