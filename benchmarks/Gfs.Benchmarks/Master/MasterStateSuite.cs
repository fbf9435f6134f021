using System.Diagnostics;
using System.Globalization;
using System.Text;
using Gfs.Master.Commands;
using Gfs.Master.State;

namespace Gfs.Benchmarks.Master;

/// <summary>
/// The master state in memory, without Raft: heap bytes per one-chunk file, apply rate, snapshot
/// freeze / write / load times and the longest apply while a snapshot is being written.
/// Usage: <c>master-state [files=1000000]</c>.
/// </summary>
public sealed class MasterStateSuite : IBenchmarkSuite
{
    public string Name => "master-state";

    public string Description => "master state at N files: heap per file, apply rate, snapshot and restore times";

    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var files = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        const int PerDir = 1000;
        var dirs = Math.Max(1, files / PerDir);
        files = dirs * PerDir;

        var before = Heap();
        var watch = Stopwatch.StartNew();
        var state = MasterStateFiller.Fill(dirs, PerDir);
        var fillSeconds = watch.Elapsed.TotalSeconds;
        var after = Heap();
        var commands = dirs + (2L * files);
        Console.WriteLine($"files {files:N0} in {dirs:N0} directories, one chunk each");
        Console.WriteLine($"apply: {commands:N0} commands in {fillSeconds:F2} s = {commands / fillSeconds:N0} commands/s (single thread, no Raft)");
        Console.WriteLine($"heap per one-chunk file: {(after - before) / (double)files:F1} bytes (GC.GetTotalMemory after a full compacting GC)");
        Console.WriteLine($"  of which big structures: {state.StructureBytes / (double)files:F1} bytes; GC heap size {GC.GetGCMemoryInfo().HeapSizeBytes / 1e6:F0} MB");

        var path = Path.Combine(Path.GetTempPath(), $"gfs-master-bench-{Environment.ProcessId}.snap");
        try
        {
            var freezes = new List<double>();
            var writes = new List<double>();
            var loads = new List<double>();
            long size = 0;
            for (var run = 0; run < 3; run++)
            {
                watch.Restart();
                var frozen = state.Freeze();
                freezes.Add(watch.Elapsed.TotalMicroseconds);
                watch.Restart();
                using (var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 0))
                {
                    frozen.WriteTo(stream);
                    stream.Flush(true);
                    size = stream.Length;
                }

                writes.Add(watch.Elapsed.TotalMilliseconds);
                watch.Restart();
                using (var stream = File.OpenRead(path))
                {
                    GC.KeepAlive(MasterState.ReadFrom(stream));
                }

                loads.Add(watch.Elapsed.TotalMilliseconds);
                Heap();
            }

            Console.WriteLine($"snapshot: {size / 1e6:F1} MB; freeze (apply paused) median {Stats.Median(freezes):F0} µs; write+fsync median {Stats.Median(writes):F0} ms; load median {Stats.Median(loads):F0} ms");

            // Apply while a snapshot of the same state is written on another thread: the longest single apply.
            var snapshot = state.Freeze();
            var writer = Task.Run(() =>
            {
                using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 0);
                snapshot.WriteTo(stream);
            }, cancellationToken);
            var longest = 0.0;
            var applied = 0;
            var command = new MasterCommand { Timestamp = 1 };
            while (!writer.IsCompleted)
            {
                command.Op = new CreateFileOp { Path = Encoding.UTF8.GetBytes($"/d{applied % dirs}/extra{applied}") };
                var t = Stopwatch.GetTimestamp();
                state.Apply(command);
                longest = Math.Max(longest, Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                applied++;
            }

            writer.Wait(cancellationToken);
            Console.WriteLine($"during a snapshot write: {applied:N0} creates applied, longest single apply {longest:F2} ms (copy-on-write pages)");
        }
        finally
        {
            File.Delete(path);
        }

        return Task.FromResult(0);
    }

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
