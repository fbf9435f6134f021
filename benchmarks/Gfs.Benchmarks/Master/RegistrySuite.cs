using System.Diagnostics;
using System.Globalization;
using Gfs.Client.Protocol.Chunk;
using Gfs.Master.Cluster;
using Gfs.Node.Chunkserver;

namespace Gfs.Benchmarks.Master;

/// <summary>
/// The master's chunkserver registry (soft state) at N chunks per server, three servers: the CPU one
/// heartbeat costs under the registry's lock, with and without the periodic stale-replica scan, and
/// a full chunk report. Every master replica runs this for every heartbeat of every chunkserver.
/// Then the chunkserver side: listing held leases for a heartbeat, and memory per chunk state.
/// Usage: <c>registry [chunks per server...]</c> (default 10000 100000 1000000).
/// </summary>
public sealed class RegistrySuite : IBenchmarkSuite
{
    private const int Servers = 3;

    public string Name => "registry";

    public string Description => "master registry: µs per incremental heartbeat, ms per stale-replica scan and per full report, at N chunks per server";

    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var sizes = args.Length > 0 ? args.Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray() : [10_000, 100_000, 1_000_000];
        Console.WriteLine("chunks/server  heartbeat µs (p50 / p99)  scan ms (p50)  full report ms (p50)");
        foreach (var n in sizes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (heartbeat, heartbeat99) = MeasureHeartbeats(n, scanEvery: TimeSpan.FromHours(1));
            var scan = MeasureScans(n);
            var full = MeasureFullReports(n);
            Console.WriteLine($"{n,13:N0}  {heartbeat,12:F1} / {heartbeat99,-9:F1}  {scan,13:F2}  {full,20:F1}");
        }

        Console.WriteLine();
        Console.WriteLine($"full report size on the wire (one message; parts hold at most {HeartbeatRequest.MaxReportChunks:N0} chunks, the master takes messages up to 16 MiB)");
        foreach (var n in sizes)
        {
            var report = Heartbeat("cs0", Enumerable.Range(0, n).Select(h => new ReportedChunk { Handle = 5_000_000L + h, Version = 3, Length = h % 2 == 0 ? 4096 : 64L << 20 }).ToList(), full: true);
            var bytes = MessagePack.MessagePackSerializer.Serialize(report, Gfs.Client.Protocol.WireFormat.Options).Length;
            Console.WriteLine($"{n,13:N0} chunks: {bytes / 1e6,8:F1} MB, {bytes / (double)n:F1} bytes per chunk");
        }

        Console.WriteLine();
        Console.WriteLine("chunkserver: leases listed per heartbeat (100 live leases), and memory per chunk state");
        Console.WriteLine("chunk states  walk of every state µs (p50)  leased list µs (p50)  bytes per state");
        foreach (var n in sizes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (walk, list, bytes) = MeasureChunkTable(n);
            Console.WriteLine($"{n,12:N0}  {walk,27:F1}  {list,20:F1}  {bytes,15:F0}");
        }

        return Task.FromResult(0);
    }

    /// <summary>
    /// A chunkserver's heartbeat lists the leases it holds: walking every chunk's state (how it was
    /// done before) against the list of leased chunks (how it is done now), at N states.
    /// </summary>
    private static (double Walk, double List, double BytesPerState) MeasureChunkTable(int states)
    {
        var before = Heap();
        var table = new ChunkTable();
        for (var h = 0L; h < states; h++)
        {
            table.Get(h);
        }

        var bytes = (Heap() - before) / (double)states;
        for (var h = 0L; h < 100; h++)
        {
            table.GrantLease(table.Get(h * (states / 100)), version: 1, grantedAt: 0, expiresAt: long.MaxValue);
        }

        var walks = new List<double>();
        var lists = new List<double>();
        for (var i = 0; i < 15; i++)
        {
            var watch = Stopwatch.StartNew();
            var count = 0;
            foreach (var state in table.All)
            {
                var (version, expiresAt, _) = state.Lease();
                if (version != 0 && expiresAt > 10)
                {
                    count++;
                }
            }

            walks.Add(watch.Elapsed.TotalMicroseconds);
            watch.Restart();
            var listed = table.LiveLeases(now: 10).Count;
            lists.Add(watch.Elapsed.TotalMicroseconds);
            if (count != 100 || listed != 100)
            {
                throw new InvalidOperationException($"expected 100 leases, the walk found {count} and the list {listed}");
            }
        }

        GC.KeepAlive(table);
        return (Stats.Median(walks.Skip(3).ToList()), Stats.Median(lists.Skip(3).ToList()), bytes);
    }

    private static long Heap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>Record + Orders of a heartbeat carrying 8 changed chunks, the way ChunkCoordinator calls them.</summary>
    private static (double P50, double P99) MeasureHeartbeats(int chunks, TimeSpan scanEvery)
    {
        var registry = Filled(chunks, scanEvery);
        var samples = new List<double>();
        var watch = new Stopwatch();
        for (var i = 0; i < 400; i++)
        {
            var changed = Enumerable.Range(0, 8).Select(k => Chunk(((i * 8L) + k) % chunks, length: i)).ToList();
            var heartbeat = Heartbeat("cs0", changed, full: false);
            watch.Restart();
            registry.Record(heartbeat);
            registry.Orders("cs0", Versions, static _ => false);
            watch.Stop();
            if (i >= 100)
            {
                samples.Add(watch.Elapsed.TotalMicroseconds);
            }
        }

        return (Stats.Median(samples), Stats.Percentile(samples, 99));
    }

    /// <summary>Orders with the periodic scan due (every call scans all of the server's replicas).</summary>
    private static double MeasureScans(int chunks)
    {
        var registry = Filled(chunks, TimeSpan.Zero);
        var samples = new List<double>();
        for (var i = 0; i < 7; i++)
        {
            var watch = Stopwatch.StartNew();
            registry.Orders("cs0", Versions, static _ => false);
            samples.Add(watch.Elapsed.TotalMilliseconds);
        }

        return Stats.Median(samples.Skip(2).ToList());
    }

    private static double MeasureFullReports(int chunks)
    {
        var registry = Filled(chunks, TimeSpan.FromHours(1));
        var report = Heartbeat("cs0", Enumerable.Range(0, chunks).Select(h => Chunk(h, 0)).ToList(), full: true);
        var samples = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var watch = Stopwatch.StartNew();
            registry.Record(report);
            samples.Add(watch.Elapsed.TotalMilliseconds);
        }

        return Stats.Median(samples.Skip(1).ToList());
    }

    private static ChunkserverRegistry Filled(int chunks, TimeSpan scanEvery)
    {
        var registry = new ChunkserverRegistry(TimeProvider.System, new DataPathOptions { OrderScanInterval = scanEvery });
        var all = Enumerable.Range(0, chunks).Select(h => Chunk(h, 0)).ToList();
        for (var s = 0; s < Servers; s++)
        {
            registry.Record(Heartbeat($"cs{s}", all, full: true));
            registry.Orders($"cs{s}", Versions, static _ => false); // the scan a full report triggers
        }

        // A few replicas clients reported damaged, as a live cluster has now and then.
        registry.MarkBad(1, "cs1");
        return registry;
    }

    /// <summary>Every chunk at version 1, as the replicated state would answer (an array per call, like log.Read).</summary>
    private static (long[] Versions, long NextChunkHandle) Versions(IReadOnlyList<long> handles)
    {
        var versions = new long[handles.Count];
        Array.Fill(versions, 1L);
        return (versions, long.MaxValue);
    }

    private static ReportedChunk Chunk(long handle, long length) => new() { Handle = handle, Version = 1, Length = length };

    private static HeartbeatRequest Heartbeat(string id, List<ReportedChunk> chunks, bool full) => new()
    {
        ServerId = id,
        Url = $"http://127.0.0.1:{7200 + id[^1]}",
        Rack = "r0",
        CapacityBytes = 1L << 40,
        FreeBytes = 1L << 39,
        StartedUnixMs = 1,
        FullReport = full,
        Chunks = full ? chunks : [],
        Changed = full ? [] : chunks,
        ChunkCount = chunks.Count,
    };
}
