using System.Diagnostics;
using System.IO.Hashing;
using System.Text;
using Gfs.Client;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Protocol.Master;
using Gfs.Client.Transport;
using Gfs.Testing;

namespace Gfs.Benchmarks.FileSystem;

/// <summary>
/// Where the time of one small-file create goes: the three steps of create + 4 KiB + close timed one
/// by one over the real protocol against real processes (3 masters, 3 chunkservers), one client.
/// </summary>
public sealed class SmallFileStepsSuite : IBenchmarkSuite
{
    public string Name => "smallfile-steps";

    public string Description => "latency of each step of a small-file create (CreateLeased, inline Write, SetLength) against real processes. Options: --files N (300 per client), --clients N (1)";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var at = Array.IndexOf(args, "--files");
        var files = at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], System.Globalization.CultureInfo.InvariantCulture) : 300;
        var clientsAt = Array.IndexOf(args, "--clients");
        var clients = clientsAt >= 0 && clientsAt + 1 < args.Length ? int.Parse(args[clientsAt + 1], System.Globalization.CultureInfo.InvariantCulture) : 1;
        await using var cluster = await GfsCluster.StartAsync(3, masterArguments: [], chunkserverArguments: []);
        using var rpc = new RpcClient(new RpcClientOptions());
        using var master = new MasterClient(cluster.ClientOptions, rpc);
        var data = new byte[4096];
        Random.Shared.NextBytes(data);
        var crc = Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data);
        var steps = new[] { "CreateLeased", "Write (inline, 3 replicas)", "SetLength", "Mkdir (reference commit)" };
        var times = steps.Select(_ => new List<double>()).ToArray();
        await master.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Mkdir, "/steps"), cancellationToken);
        var withoutLease = 0;
        async Task ClientAsync(int client)
        {
            for (var n = 0; n < files + 20; n++)
            {
                var path = $"/steps/c{client}f{n}";
                var watch = Stopwatch.StartNew();
                var lap = new double[steps.Length];

                // What GfsClient does for create + 4 KiB + close: the create brings the first chunk's lease,
                // the bytes travel inline in the write, the close records the length.
                var created = await master.CallExactlyOnceAsync<CreateLeasedRequest, CreateLeasedReply>(
                    ChunkRoutes.CreateLeased,
                    h => new CreateLeasedRequest { Header = h, Op = NamespaceOp.Of(NamespaceOpKind.CreateFile, path, goal: 3, chunkSize: 64 << 20), ClientHost = "127.0.0.1" },
                    cancellationToken);
                // Like GfsClient: a create that brought no lease (no grant answered in time) leases chunk 0 itself.
                var lease = created.Lease;
                if (lease is null)
                {
                    Interlocked.Increment(ref withoutLease);
                    lease = await master.CallLeaderAsync<LeaseChunkRequest, LeaseChunkReply>(
                        ChunkRoutes.LeaseChunk,
                        new LeaseChunkRequest { Path = Encoding.UTF8.GetBytes(path), Index = 0, Allocate = true, ClientHost = "127.0.0.1" },
                        cancellationToken);
                }

                lap[0] = watch.Elapsed.TotalMilliseconds;
                var primary = lease.Chunk.Replicas.Single(r => r.ServerId == lease.PrimaryId);
                await rpc.CallAsync<WriteRequest, WriteReply>(new Uri(primary.Url), ChunkRoutes.Write, new WriteRequest { Handle = lease.Chunk.Handle, Version = lease.Chunk.Version, Offset = 0, Length = data.Length, Data = data, Crc32C = crc }, cancellationToken: cancellationToken);
                lap[1] = watch.Elapsed.TotalMilliseconds;
                await master.MutateAsync(new NamespaceOp { Kind = NamespaceOpKind.SetLength, Path = Encoding.UTF8.GetBytes(path), Size = data.Length }, cancellationToken);
                lap[2] = watch.Elapsed.TotalMilliseconds;

                // Not part of a file: a bare namespace commit, the floor every master step stands on.
                await master.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Mkdir, $"/steps/c{client}d{n}"), cancellationToken);
                lap[3] = watch.Elapsed.TotalMilliseconds;
                if (n >= 20)
                {
                    lock (times)
                    {
                        for (var i = 0; i < steps.Length; i++)
                        {
                            times[i].Add(lap[i] - (i == 0 ? 0 : lap[i - 1]));
                        }
                    }
                }
            }
        }

        var wall = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(() => ClientAsync(c), cancellationToken)));
        wall.Stop();

        Console.WriteLine($"{clients} client(s), {files} files of 4 KiB each (after 20 warm-up files), milliseconds per step; {clients * (files + 20) / wall.Elapsed.TotalSeconds:0} files/s including the mkdirs; {withoutLease} creates brought no lease");
        Console.WriteLine($"{"step",-28} {"p50",8} {"p90",8} {"p99",8}");
        for (var i = 0; i < steps.Length; i++)
        {
            var sorted = times[i].Order().ToList();
            Console.WriteLine($"{steps[i],-28} {sorted[sorted.Count / 2],8:0.00} {sorted[sorted.Count * 9 / 10],8:0.00} {sorted[Math.Min(sorted.Count - 1, sorted.Count * 99 / 100)],8:0.00}");
        }

        var totals = Enumerable.Range(0, times[0].Count).Select(f => times.Take(3).Sum(t => t[f])).Order().ToList();
        Console.WriteLine($"{"whole file",-28} {totals[totals.Count / 2],8:0.00} {totals[totals.Count * 9 / 10],8:0.00} {totals[Math.Min(totals.Count - 1, totals.Count * 99 / 100)],8:0.00}");
        return 0;
    }
}
