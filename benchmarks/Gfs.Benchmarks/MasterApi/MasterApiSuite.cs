using System.Diagnostics;
using System.Globalization;
using Gfs.Client;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Master;
using Gfs.Client.Transport;
using Gfs.Testing;

namespace Gfs.Benchmarks.MasterApi;

/// <summary>
/// Namespace operations per second through the real HTTP/2 API of three real <c>gfs master</c>
/// processes (1 and 64 clients, and the batch RPC), then leader failover over repeated SIGKILLs.
/// </summary>
public sealed class MasterApiSuite : IBenchmarkSuite
{
    public string Name => "master-api";

    public string Description => "ops/s through three gfs master processes (1 and 64 clients, batch) and failover over kills. Options: --runs N (3) --seconds S (2) --kills K (20) --election-timeout-ms L-U (300-600) --skip-throughput --skip-failover --million (restart at 1M files)";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var runs = Option(args, "--runs", 3);
        var seconds = Option(args, "--seconds", 2);
        var kills = Option(args, "--kills", 20);
        var at = Array.IndexOf(args, "--election-timeout-ms");
        var election = at >= 0 && at + 1 < args.Length ? args[at + 1] : "300-600";
        await using var cluster = await MasterCluster.StartAsync("--election-timeout-ms", election);
        using var rpc = new RpcClient(new RpcClientOptions());
        var options = cluster.ClientOptions;

        Console.WriteLine($"three gfs master processes on loopback, election timeout {election} ms; {runs} runs of ~{seconds} s each, medians");
        var startTerm = (await new MasterClient(options, rpc).StatusAsync(cluster.Urls[0], cancellationToken: cancellationToken)).Term;
        Console.WriteLine($"{"operation",-22} {"clients",7} {"ops/s",10} {"min",10} {"max",10}");
        foreach (var clients in args.Contains("--skip-throughput") ? [] : new[] { 1, 64 })
        {
            var results = new Dictionary<string, List<double>>();
            for (var run = 0; run < runs; run++)
            {
                var masters = Enumerable.Range(0, clients).Select(_ => new MasterClient(options, rpc)).ToArray();
                var prefix = $"/bench/c{clients}-r{run}";
                await masters[0].MutateAsync(NamespaceOp.Of(NamespaceOpKind.Mkdir, prefix, flag: true), cancellationToken);
                await Task.WhenAll(masters.Select((m, c) => m.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Mkdir, $"{prefix}/c{c}"), cancellationToken)));

                var created = new int[clients];
                var made = new int[clients];
                Add(results, "mkdir", await MeasureAsync(masters, seconds, async (m, c, n) =>
                {
                    await m.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Mkdir, $"{prefix}/c{c}/d{n}"), cancellationToken);
                    made[c] = n + 1;
                }, cancellationToken));
                Add(results, "create", await MeasureAsync(masters, seconds, async (m, c, n) =>
                {
                    await m.MutateAsync(NamespaceOp.Of(NamespaceOpKind.CreateFile, $"{prefix}/c{c}/f{n}"), cancellationToken);
                    created[c] = n + 1;
                }, cancellationToken));
                Add(results, "stat", await MeasureAsync(masters, seconds, (m, c, n) => m.StatAsync($"{prefix}/c{c}/f{n % Math.Max(1, created[c])}", cancellationToken), cancellationToken));
                Add(results, "list (100 entries)", await MeasureAsync(masters, seconds, (m, c, _) => m.ListAsync($"{prefix}/c{c}", limit: 100, cancellationToken: cancellationToken), cancellationToken));
                Add(results, "delete", await MeasureAsync(masters, seconds, async (m, c, n) =>
                {
                    // Files first, then the directories; a client whose entries are all gone stops.
                    var path = n < created[c] ? $"{prefix}/c{c}/f{n}" : n - created[c] < made[c] ? $"{prefix}/c{c}/d{n - created[c]}" : null;
                    if (path is null)
                    {
                        return false;
                    }

                    await m.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Delete, path), cancellationToken);
                    return true;
                }, cancellationToken));
                Add(results, "create, batch of 100", await MeasureAsync(masters, seconds, async (m, c, n) =>
                {
                    var reply = await m.BatchAsync(Enumerable.Range(0, 100).Select(i => NamespaceOp.Of(NamespaceOpKind.CreateFile, $"{prefix}/c{c}/b{n}-{i}")).ToList(), cancellationToken);
                    if (reply.Results.Any(r => r.Code != ErrorCode.Ok))
                    {
                        throw new InvalidOperationException("a batched create failed");
                    }
                }, cancellationToken, opsPerCall: 100));

                foreach (var m in masters)
                {
                    m.Dispose();
                }
            }

            foreach (var (name, values) in results)
            {
                Console.WriteLine($"{name,-22} {clients,7} {Stats.Median(values),10:0} {values.Min(),10:0} {values.Max(),10:0}");
            }
        }

        var endTerm = (await new MasterClient(options, rpc).StatusAsync(cluster.Urls[0], cancellationToken: cancellationToken)).Term;
        Console.WriteLine($"Raft term went from {startTerm} to {endTerm} during the throughput runs (each election raises it; no master was killed)");
        if (!args.Contains("--skip-failover"))
        {
            await FailoverAsync(cluster, options, rpc, kills, cancellationToken);
        }

        if (args.Contains("--million"))
        {
            await MillionAsync(cluster, options, rpc, cancellationToken);
        }

        return 0;
    }

    private static async Task FailoverAsync(MasterCluster cluster, GfsClientOptions options, RpcClient rpc, int kills, CancellationToken cancellationToken)
    {
        using var writer = new MasterClient(options with { InitialRetryDelay = TimeSpan.FromMilliseconds(10), MaxRetryDelay = TimeSpan.FromMilliseconds(100), AttemptTimeout = TimeSpan.FromSeconds(2) }, rpc);
        await writer.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Mkdir, "/failover", flag: true), cancellationToken);
        var samples = new List<double>();
        var lost = 0;
        var acknowledged = new List<string>();
        for (var k = 0; k < kills; k++)
        {
            var leader = await cluster.LeaderIndexAsync(writer);
            using var stop = new CancellationTokenSource();
            long killedAt = 0;
            double firstAfter = -1;
            var load = Task.Run(async () =>
            {
                for (var n = 0; !stop.IsCancellationRequested; n++)
                {
                    var path = $"/failover/k{k}-{n}";
                    await writer.MutateAsync(NamespaceOp.Of(NamespaceOpKind.CreateFile, path), cancellationToken);
                    acknowledged.Add(path);
                    var at = Volatile.Read(ref killedAt);
                    if (at != 0 && firstAfter < 0)
                    {
                        firstAfter = Stopwatch.GetElapsedTime(at).TotalMilliseconds;
                        return;
                    }
                }
            }, cancellationToken);

            await Task.Delay(300, cancellationToken);
            cluster.Kill(leader);
            Volatile.Write(ref killedAt, Stopwatch.GetTimestamp());
            await load;
            samples.Add(firstAfter);
            await cluster.RestartAsync(leader);
            await Task.Delay(500, cancellationToken);
        }

        // Every acknowledged create must be there after all the kills.
        foreach (var chunk in acknowledged.Chunk(500))
        {
            foreach (var path in chunk)
            {
                try
                {
                    await writer.StatAsync(path, cancellationToken);
                }
                catch (GfsException e) when (e.Code == ErrorCode.NotFound)
                {
                    lost++;
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine($"failover (SIGKILL leader → first acknowledged create), {samples.Count} kills: p50 {Stats.Percentile(samples, 50):0} ms, p99 {Stats.Percentile(samples, 99):0} ms, max {samples.Max():0} ms");
        Console.WriteLine($"acknowledged creates during the kills: {acknowledged.Count}, lost: {lost}");
    }

    /// <summary>1M files through the batch RPC, then all three masters SIGKILLed and restarted: time until a linearizable read answers.</summary>
    private static async Task MillionAsync(MasterCluster cluster, GfsClientOptions options, RpcClient rpc, CancellationToken cancellationToken)
    {
        using var client = new MasterClient(options, rpc);
        await client.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Mkdir, "/million", flag: true), cancellationToken);
        var fill = Stopwatch.StartNew();
        var writers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            using var writer = new MasterClient(options, rpc);
            await writer.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Mkdir, $"/million/w{w}"), cancellationToken);
            for (var b = 0; b < 125; b++)
            {
                var reply = await writer.BatchAsync(Enumerable.Range(0, 1000).Select(i => NamespaceOp.Of(NamespaceOpKind.CreateFile, $"/million/w{w}/f{b:000}-{i:000}")).ToList(), cancellationToken);
                if (reply.Results.Any(r => r.Code != ErrorCode.Ok))
                {
                    throw new InvalidOperationException("a create of the million failed");
                }
            }
        }, cancellationToken)).ToList();
        await Task.WhenAll(writers);
        fill.Stop();
        var leader = await cluster.LeaderIndexAsync(client);
        var before = await client.StatusAsync(cluster.Urls[leader], cancellationToken: cancellationToken);

        cluster.KillAll();
        var restart = Stopwatch.StartNew();
        await cluster.LaunchAllAsync();
        var ready = restart.Elapsed;
        using var after = new MasterClient(options with { InitialRetryDelay = TimeSpan.FromMilliseconds(10), MaxRetryDelay = TimeSpan.FromMilliseconds(100) }, rpc);
        var stat = await after.StatAsync("/million/w7/f124-999", cancellationToken);
        var serving = restart.Elapsed;
        var status = await after.StatusAsync(cluster.Urls[await cluster.LeaderIndexAsync(after)], cancellationToken: cancellationToken);
        Console.WriteLine();
        Console.WriteLine($"1M files: filled in {fill.Elapsed.TotalSeconds:0.0} s through the batch RPC ({before.Files} files on the leader)");
        Console.WriteLine($"all three masters SIGKILLed and restarted: ready lines after {ready.TotalMilliseconds:0} ms, first linearizable stat after {serving.TotalMilliseconds:0} ms; {status.Files} files, last file {(stat.Kind == EntryKind.File ? "present" : "missing")}");
        foreach (var line in cluster.Output().Split('\n').Where(l => l.Contains("Snapshot", StringComparison.Ordinal) || l.Contains("Restored", StringComparison.Ordinal)).TakeLast(8))
        {
            Console.WriteLine("  " + line);
        }
    }

    private static Task<double> MeasureAsync(MasterClient[] clients, int seconds, Func<MasterClient, int, int, Task> op, CancellationToken cancellationToken, int opsPerCall = 1)
        => MeasureAsync(
            clients,
            seconds,
            async (m, c, n) =>
            {
                await op(m, c, n);
                return true;
            },
            cancellationToken,
            opsPerCall);

    /// <summary>Runs <paramref name="op"/> on every client until the time is up (or it returns false); returns operations per second.</summary>
    private static async Task<double> MeasureAsync(MasterClient[] clients, int seconds, Func<MasterClient, int, int, Task<bool>> op, CancellationToken cancellationToken, int opsPerCall = 1)
    {
        var deadline = Stopwatch.StartNew();
        var counts = new long[clients.Length];
        await Task.WhenAll(clients.Select((client, c) => Task.Run(async () =>
        {
            for (var n = 0; deadline.Elapsed.TotalSeconds < seconds && await op(client, c, n); n++)
            {
                counts[c]++;
            }
        }, cancellationToken)));
        return counts.Sum() * opsPerCall / deadline.Elapsed.TotalSeconds;
    }

    private static void Add(Dictionary<string, List<double>> results, string name, double value)
    {
        if (!results.TryGetValue(name, out var list))
        {
            results[name] = list = [];
        }

        list.Add(value);
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
