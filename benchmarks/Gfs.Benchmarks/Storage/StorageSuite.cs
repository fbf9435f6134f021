using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Gfs.Storage;
using Gfs.Storage.Io;
using Microsoft.Win32.SafeHandles;

namespace Gfs.Benchmarks.Storage;

/// <summary>
/// Chunk store throughput against the raw file system in the same run: durable 64 MiB chunk writes vs write +
/// fdatasync (buffered, and O_DIRECT), verified reads vs plain reads, and durable small commits per second with 1
/// and 16 writers. The store writes from 4096-aligned memory, as the chunkserver does from its push buffer.
/// Options: --dir PATH (default: the temp folder; must be a real disk), --runs N (default 5), --chunks N (default 4),
/// --store-buffered (the store without O_DIRECT, for a before/after comparison in one build).
/// </summary>
public sealed partial class StorageSuite : IBenchmarkSuite
{
    private const int ChunkSize = 64 * 1024 * 1024;
    private const int Piece = 1024 * 1024;

    public string Name => "storage";

    public string Description => "chunk store: durable 64 MiB writes and verified reads vs raw file I/O, small commits/s";

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fdatasync(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint pwrite(int fd, byte* buffer, nuint count, long offset);

    /// <summary>O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC (x86-64 Linux values).</summary>
    private static SafeFileHandle CreateDirect(string path)
    {
        var fd = open(path, 0x1 | 0x40 | 0x200 | 0x4000 | 0x80000, 0x1a4);
        return fd >= 0 ? new SafeFileHandle(fd, ownsHandle: true) : throw new IOException($"open O_DIRECT {path} failed: errno {Marshal.GetLastPInvokeError()}");
    }

    private static unsafe void WriteDirect(SafeFileHandle file, ReadOnlyMemory<byte> aligned, long offset)
    {
        using var pin = aligned.Pin();
        for (var done = 0; done < aligned.Length;)
        {
            var n = pwrite((int)file.DangerousGetHandle(), (byte*)pin.Pointer + done, (nuint)(aligned.Length - done), offset + done);
            if (n <= 0)
            {
                throw new IOException($"O_DIRECT pwrite failed: errno {Marshal.GetLastPInvokeError()}");
            }

            done += (int)n;
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int posix_fadvise(int fd, long offset, long len, int advice);

    private static void DataSync(SafeFileHandle file)
    {
        if (fdatasync((int)file.DangerousGetHandle()) != 0)
        {
            throw new IOException($"fdatasync failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Drops the file's pages from the page cache (POSIX_FADV_DONTNEED) so the next read comes from the disk.</summary>
    private static void DropCache(string path)
    {
        using var f = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        _ = posix_fadvise((int)f.DangerousGetHandle(), 0, 0, 4);
    }

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var dir = Option(args, "--dir") ?? Path.GetTempPath();
        var runs = int.Parse(Option(args, "--runs") ?? "5", CultureInfo.InvariantCulture);
        var chunkCount = int.Parse(Option(args, "--chunks") ?? "4", CultureInfo.InvariantCulture);
        readWindow = int.Parse(Option(args, "--window-kib") ?? "1024", CultureInfo.InvariantCulture) * 1024;
        storeDirect = !args.Contains("--store-buffered");
        var only = Option(args, "--only");
        var root = Path.Combine(dir, $"gfs-bench-storage-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        try
        {
            Console.WriteLine($"storage suite: {runs} runs, {chunkCount} x 64 MiB per run, directory {root} ({FileSystemOf(root)}), {Environment.ProcessorCount} cores, store writes {(storeDirect ? "O_DIRECT where aligned" : "buffered")}");
            using var aligned = AlignedBufferPool.Shared.Rent(ChunkSize);
            new Random(1).NextBytes(aligned.Memory.Span[..ChunkSize]);
            var data = aligned.Memory[..ChunkSize];
            var rows = new List<(string Name, List<double> Ours, List<double> Raw, string Unit)>();

            // Warm-up (not counted): lets the JIT tier up and the disk settle.
            await ChunkThroughputAsync(root, data, 1, 1, whole: true, cancellationToken);

            var whole = await ChunkThroughputAsync(root, data, runs, chunkCount, whole: true, cancellationToken);
            rows.Add(("sequential write, one 64 MiB write per chunk, durable (raw: buffered)", whole.WriteOurs, whole.WriteRaw, "MB/s"));
            rows.Add(("sequential write, one 64 MiB write per chunk, durable (raw: O_DIRECT)", whole.WriteOurs, whole.WriteRawDirect, "MB/s"));
            if (only != "chunks")
            {
                var appends = await ChunkThroughputAsync(root, data, runs, chunkCount, whole: false, cancellationToken);
                rows.Add(("sequential write, 1 MiB durable appends (raw: buffered)", appends.WriteOurs, appends.WriteRaw, "MB/s"));
                rows.Add(("sequential write, 1 MiB durable appends (raw: O_DIRECT)", appends.WriteOurs, appends.WriteRawDirect, "MB/s"));
            }

            rows.Add(("read 64 MiB chunks, page cache (verified vs plain)", whole.HotOurs, whole.HotRaw, "MB/s"));
            rows.Add(("read 64 MiB chunks, from disk (verified vs plain)", whole.ColdOurs, whole.ColdRaw, "MB/s"));
            if (only == "chunks")
            {
                Print(rows, runs);
                return 0;
            }

            foreach (var writers in new[] { 1, 16 })
            {
                var (ours, raw) = await CommitsAsync(root, writers, runs, appendBytes: 0, cancellationToken);
                rows.Add(($"durable metadata commits (set version), {writers} writer(s)", ours, raw, "ops/s"));
            }

            foreach (var writers in new[] { 1, 16 })
            {
                var (ours, raw) = await CommitsAsync(root, writers, runs, appendBytes: 4096, cancellationToken);
                rows.Add(($"durable 4 KiB appends, {writers} writer(s), own chunk each", ours, raw, "ops/s"));
            }

            Print(rows, runs);
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static void Print(List<(string Name, List<double> Ours, List<double> Raw, string Unit)> rows, int runs)
    {
        Console.WriteLine();
        Console.WriteLine($"| measurement (median of {runs} runs) | Gfs.Storage | raw baseline | ratio | median of per-run ratios |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        foreach (var (name, ours, raw, unit) in rows)
        {
            var o = Stats.Median(ours);
            var r = Stats.Median(raw);
            var paired = Stats.Median(ours.Zip(raw, (a, b) => a / b).ToList());
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {o:0} {unit} | {r:0} {unit} | {o / r * 100:0} % | {paired * 100:0} % |"));
        }
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static string FileSystemOf(string path)
    {
        try
        {
            var best = "";
            var type = "?";
            foreach (var line in File.ReadAllLines("/proc/mounts"))
            {
                var f = line.Split(' ');
                if (f.Length > 2 && path.StartsWith(f[1], StringComparison.Ordinal) && f[1].Length > best.Length)
                {
                    best = f[1];
                    type = $"{f[2]} on {f[0]}";
                }
            }

            return type;
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static int readWindow = 1024 * 1024;
    private static bool storeDirect = true;

    private static ChunkStoreOptions StoreOptions(string dir) => new()
    {
        Directory = dir,
        CheckpointInterval = TimeSpan.FromSeconds(30),
        ReadWindow = readWindow,
        DirectWrites = storeDirect,
    };

    private sealed record ChunkResults(List<double> WriteOurs, List<double> WriteRaw, List<double> WriteRawDirect, List<double> HotOurs, List<double> HotRaw, List<double> ColdOurs, List<double> ColdRaw);

    /// <summary>
    /// One run: each chunk is written by the store and, next to it, the same bytes to a raw file buffered and to one
    /// with O_DIRECT (rotating which goes first), so disk noise hits every side alike; then every chunk is read back
    /// by the store and from the buffered raw file, from the page cache (each read repeated so a measurement lasts
    /// long enough) and after dropping it from the cache.
    /// </summary>
    private static async Task<ChunkResults> ChunkThroughputAsync(string root, ReadOnlyMemory<byte> data, int runs, int chunks, bool whole, CancellationToken cancellationToken)
    {
        const int HotRepeats = 4;
        var wOurs = new List<double>();
        var wRaw = new List<double>();
        var wDirect = new List<double>();
        var hOurs = new List<double>();
        var hRaw = new List<double>();
        var cOurs = new List<double>();
        var cRaw = new List<double>();
        long bytes = (long)chunks * ChunkSize;
        var buffer = new byte[Piece];
        for (var run = 0; run < runs; run++)
        {
            var storeDir = Path.Combine(root, $"store-{run}");
            var rawDir = Path.Combine(root, $"raw-{run}");
            Directory.CreateDirectory(rawDir);
            await using var store = await ChunkStore.OpenAsync(StoreOptions(storeDir), cancellationToken: cancellationToken);
            string OurPath(int c) => Path.Combine(storeDir, "chunks", $"{c + 1:x16}.chunk");
            string RawPath(int c) => Path.Combine(rawDir, $"{c}.raw");
            string DirectPath(int c) => Path.Combine(rawDir, $"{c}.direct");

            var oursTime = TimeSpan.Zero;
            var rawTime = TimeSpan.Zero;
            var directTime = TimeSpan.Zero;
            for (var c = 0; c < chunks; c++)
            {
                for (var side = 0; side < 3; side++)
                {
                    var which = (run + c + side) % 3;
                    var sw = Stopwatch.StartNew();
                    if (which == 2)
                    {
                        using (var f = CreateDirect(DirectPath(c)))
                        {
                            if (whole)
                            {
                                WriteDirect(f, data, 0);
                                DataSync(f);
                            }
                            else
                            {
                                for (var at = 0; at < ChunkSize; at += Piece)
                                {
                                    WriteDirect(f, data.Slice(at, Piece), at);
                                    DataSync(f);
                                }
                            }
                        }

                        directTime += sw.Elapsed;
                        File.Delete(DirectPath(c));
                    }
                    else if (which == 0)
                    {
                        await store.CreateAsync(c + 1, 1, cancellationToken);
                        if (whole)
                        {
                            await store.WriteAsync(c + 1, 0, data, 1, cancellationToken);
                        }
                        else
                        {
                            for (var at = 0; at < ChunkSize; at += Piece)
                            {
                                await store.AppendAsync(c + 1, data.Slice(at, Piece), 1, cancellationToken);
                            }
                        }

                        oursTime += sw.Elapsed;
                    }
                    else
                    {
                        using (var f = File.OpenHandle(RawPath(c), FileMode.Create, FileAccess.ReadWrite))
                        {
                            if (whole)
                            {
                                RandomAccess.Write(f, data.Span, 0);
                                DataSync(f);
                            }
                            else
                            {
                                for (var at = 0; at < ChunkSize; at += Piece)
                                {
                                    RandomAccess.Write(f, data.Span.Slice(at, Piece), at);
                                    DataSync(f);
                                }
                            }
                        }

                        rawTime += sw.Elapsed;
                    }
                }
            }

            wOurs.Add(Stats.MBps(bytes, oursTime));
            wRaw.Add(Stats.MBps(bytes, rawTime));
            wDirect.Add(Stats.MBps(bytes, directTime));

            if (whole)
            {
                for (var pass = 0; pass < 2; pass++)
                {
                    var cold = pass == 1;
                    var repeats = cold ? 1 : HotRepeats;
                    oursTime = TimeSpan.Zero;
                    rawTime = TimeSpan.Zero;
                    for (var c = 0; c < chunks; c++)
                    {
                        for (var side = 0; side < 2; side++)
                        {
                            var oursNow = (run + c + side) % 2 == 0;
                            if (cold)
                            {
                                DropCache(oursNow ? OurPath(c) : RawPath(c));
                            }

                            var sw = Stopwatch.StartNew();
                            for (var r = 0; r < repeats; r++)
                            {
                                long total = 0;
                                if (oursNow)
                                {
                                    total = await store.ReadAsync(c + 1, 0, ChunkSize, static (_, _) => default, cancellationToken);
                                }
                                else
                                {
                                    using var f = File.OpenHandle(RawPath(c), FileMode.Open, FileAccess.Read);
                                    for (long at = 0; at < ChunkSize;)
                                    {
                                        var n = RandomAccess.Read(f, buffer, at);
                                        if (n == 0)
                                        {
                                            break;
                                        }

                                        at += n;
                                        total += n;
                                    }
                                }

                                if (total != ChunkSize)
                                {
                                    throw new InvalidOperationException($"read {total} of {ChunkSize} bytes");
                                }
                            }

                            if (oursNow)
                            {
                                oursTime += sw.Elapsed;
                            }
                            else
                            {
                                rawTime += sw.Elapsed;
                            }
                        }
                    }

                    (cold ? cOurs : hOurs).Add(Stats.MBps(bytes * repeats, oursTime));
                    (cold ? cRaw : hRaw).Add(Stats.MBps(bytes * repeats, rawTime));
                }
            }

            await store.DisposeAsync();
            Directory.Delete(storeDir, recursive: true);
            Directory.Delete(rawDir, recursive: true);
            var line = FormattableString.Invariant($"  run {run + 1} ({(whole ? "64 MiB writes" : "1 MiB appends")}): write {wOurs[^1]:0} vs raw {wRaw[^1]:0} buffered, {wDirect[^1]:0} O_DIRECT MB/s");
            if (whole)
            {
                line += FormattableString.Invariant($"; read hot {hOurs[^1]:0} vs {hRaw[^1]:0}, cold {cOurs[^1]:0} vs {cRaw[^1]:0} MB/s");
            }

            Console.WriteLine(line);
        }

        return new ChunkResults(wOurs, wRaw, wDirect, hOurs, hRaw, cOurs, cRaw);
    }

    /// <summary>
    /// Durable small commits per second for two seconds: set-version (metadata only) or small appends, each writer
    /// on its own chunk. The raw baseline per writer is a 64-byte (or same-size) write + fdatasync to its own file.
    /// </summary>
    private static async Task<(List<double> Ours, List<double> Raw)> CommitsAsync(string root, int writers, int runs, int appendBytes, CancellationToken cancellationToken)
    {
        var ours = new List<double>();
        var raw = new List<double>();
        var duration = TimeSpan.FromSeconds(2);
        var payload = new byte[Math.Max(64, appendBytes)];
        for (var run = 0; run < runs; run++)
        {
            var storeDir = Path.Combine(root, $"commits-{run}");
            await using (var store = await ChunkStore.OpenAsync(StoreOptions(storeDir), cancellationToken: cancellationToken))
            {
                for (var w = 0; w < writers; w++)
                {
                    await store.CreateAsync(w + 1, 1, cancellationToken);
                }

                long count = 0;
                var sw = Stopwatch.StartNew();
                await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
                {
                    long version = 1;
                    long appended = 0;
                    while (sw.Elapsed < duration)
                    {
                        if (appendBytes == 0)
                        {
                            await store.SetVersionAsync(w + 1, ++version, cancellationToken);
                        }
                        else
                        {
                            if (appended + appendBytes > ChunkSize)
                            {
                                break;
                            }

                            await store.AppendAsync(w + 1, payload.AsMemory(0, appendBytes), 1, cancellationToken);
                            appended += appendBytes;
                        }

                        Interlocked.Increment(ref count);
                    }
                }, cancellationToken)));
                ours.Add(count / sw.Elapsed.TotalSeconds);
            }

            Directory.Delete(storeDir, recursive: true);

            var rawDir = Path.Combine(root, $"commits-raw-{run}");
            Directory.CreateDirectory(rawDir);
            long rawCount = 0;
            var rawSw = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(() =>
            {
                using var f = File.OpenHandle(Path.Combine(rawDir, $"{w}.raw"), FileMode.Create, FileAccess.ReadWrite);
                long at = 0;
                while (rawSw.Elapsed < duration)
                {
                    RandomAccess.Write(f, payload, at);
                    at += appendBytes == 0 ? 0 : payload.Length;
                    DataSync(f);
                    Interlocked.Increment(ref rawCount);
                }
            }, cancellationToken)));
            raw.Add(rawCount / rawSw.Elapsed.TotalSeconds);
            Directory.Delete(rawDir, recursive: true);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  run {run + 1} ({(appendBytes == 0 ? "set version" : $"{appendBytes} B appends")}, {writers} writers): {ours[^1]:0} vs raw {raw[^1]:0} ops/s"));
        }

        return (ours, raw);
    }
}
