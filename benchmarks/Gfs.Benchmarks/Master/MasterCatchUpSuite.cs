using System.Diagnostics;
using System.Globalization;
using System.Text;
using Gfs.Consensus;
using Gfs.Master.Commands;
using Gfs.Testing;

namespace Gfs.Benchmarks.Master;

/// <summary>
/// A follower stopped while N one-chunk files are created catches up through a snapshot; then all three
/// replicas restart. Prints snapshot size, catch-up time and restart-to-serving time.
/// Usage: <c>master-catchup [files=1000000]</c>.
/// </summary>
public sealed class MasterCatchUpSuite : IBenchmarkSuite
{
    public string Name => "master-catchup";

    public string Description => "3 in-process master replicas: follower catch-up via snapshot and restart-to-serving at N files";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var files = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        const int PerEntry = 500;
        var root = Path.Combine(Path.GetTempPath(), $"gfs-master-catchup-{Environment.ProcessId}");
        var cluster = new InProcessMasterCluster(root) { SnapshotLogBytes = 32L << 20, LogLevel = MasterRaftSuite.BenchLogLevel };
        try
        {
            await cluster.StartAllAsync();
            var leader = await cluster.LeaderAsync(cancellationToken);
            var lagging = (leader + 1) % 3;
            await cluster.StopAsync(lagging);

            var watch = Stopwatch.StartNew();
            var replica = cluster.Replica(leader);
            var entries = files / PerEntry;
            var next = 0;
            await Task.WhenAll(Enumerable.Range(0, 16).Select(async worker =>
            {
                for (int e; (e = Interlocked.Increment(ref next) - 1) < entries;)
                {
                    var ops = new List<MasterOp>(PerEntry * 2 + 1);
                    if (e % 1000 == 0)
                    {
                        ops.Add(new MakeDirectoryOp { Path = Encoding.UTF8.GetBytes($"/d{e / 1000}") });
                    }

                    for (var i = 0; i < PerEntry; i++)
                    {
                        var path = Encoding.UTF8.GetBytes($"/d{e / 1000}/f{e}-{i}");
                        ops.Add(new CreateFileOp { Path = path, Goal = 3 });
                        ops.Add(new AllocateChunkOp { Path = path, Handle = replica.NewChunkHandle(), Replicas = ["cs1", "cs2", "cs3"] });
                    }

                    // the directory must exist before other workers create into it
                    if (e % 1000 != 0)
                    {
                        var dir = Encoding.UTF8.GetBytes($"/d{e / 1000}");
                        while (cluster.Replica(await cluster.LeaderAsync(cancellationToken)).Master.Read(s => s.Stat(dir, out _)) != Gfs.Client.Protocol.ErrorCode.Ok)
                        {
                            await Task.Delay(5, cancellationToken);
                        }
                    }

                    await cluster.ExecuteAsync(0, 0, new BatchOp { Ops = [.. ops] }, cancellationToken);
                }
            }));
            Console.WriteLine($"created {entries * PerEntry:N0} one-chunk files in {watch.Elapsed.TotalSeconds:F1} s ({entries * PerEntry / watch.Elapsed.TotalSeconds:N0} files/s, batches of {PerEntry} files per entry)");

            // Snapshot everything: a request made while a snapshot is being written waits for the next entry.
            ReplicatedStateMachine machine;
            long target;
            do
            {
                leader = await cluster.LeaderAsync(cancellationToken);
                replica = cluster.Replica(leader);
                machine = replica.Raft.StateMachine;
                machine.RequestSnapshot();
                await cluster.ExecuteAsync(0, 0, new NoopOp(), cancellationToken);
                target = replica.Master.AppliedIndex;
                for (var wait = 0; wait < 200 && machine.SnapshotIndex < target; wait++)
                {
                    await Task.Delay(50, cancellationToken);
                }
            }
            while (machine.SnapshotIndex < target);

            var snapshotFile = Directory.EnumerateFiles(Path.Combine(root, $"m{leader}", "snapshots"), "*.snap").Select(f => new FileInfo(f)).MaxBy(f => f.Length)!;
            Console.WriteLine($"leader snapshot: {snapshotFile.Length / 1e6:F1} MB at index {machine.SnapshotIndex}");

            watch.Restart();
            await cluster.StartAsync(lagging);
            var follower = cluster.Replica(lagging);
            while (follower.Master.AppliedIndex < target)
            {
                await Task.Delay(20, cancellationToken);
            }

            Console.WriteLine($"stopped follower caught up in {watch.Elapsed.TotalSeconds:F1} s; snapshots installed: {follower.Raft.StateMachine.SnapshotsInstalled}");
            var hashes = Enumerable.Range(0, 3).Select(i => cluster.Replica(i).Master.Read(s => s.ComputeStateHash())).Distinct().Count();
            Console.WriteLine($"state hashes equal on all replicas: {hashes == 1}");

            for (var i = 0; i < 3; i++)
            {
                await cluster.StopAsync(i);
            }

            watch.Restart();
            await cluster.StartAllAsync();
            var started = watch.Elapsed.TotalSeconds;
            while (true)
            {
                try
                {
                    var current = await cluster.LeaderAsync(cancellationToken);
                    await cluster.Replica(current).ExecuteAsync(0, 0, new NoopOp(), cancellationToken);
                    var count = await cluster.Replica(current).ReadAsync(s => s.FileCount, cancellationToken);
                    Console.WriteLine($"restart of all three to serving: {watch.Elapsed.TotalSeconds:F1} s (processes up after {started:F1} s); files {count:N0}");
                    break;
                }
                catch (NotLeaderException)
                {
                    await Task.Delay(10, cancellationToken);
                }
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
