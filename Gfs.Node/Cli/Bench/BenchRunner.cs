using System.Buffers;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Gfs.Client;
using Gfs.Node.Cli.Client;
using Gfs.Storage.Io;

namespace Gfs.Node.Cli.Bench;

/// <summary>
/// The measurements of <c>gfs bench</c>, each against the cluster through real clients. Data comes
/// from one random 8 MiB block made at start, so generating it is never the bottleneck.
/// </summary>
internal sealed partial class BenchRunner(Func<IGfsFileSystem> connect, BenchSettings settings, TextWriter log)
{
    public const int SmallFileSize = 4096;
    public const int AppendRecordSize = 1 << 20;
    private static readonly byte[] Block = MakeBlock();

    /// <summary>True when the last cold-read measurement dropped the page cache (else it read warm).</summary>
    public bool LastReadWasCold { get; private set; }

    /// <summary>Runs every measurement once under <paramref name="directory"/>, which it creates and removes.</summary>
    public async Task<IReadOnlyList<BenchResultJson>> RunOnceAsync(string directory, CancellationToken cancellationToken)
    {
        var results = new List<BenchResultJson>();
        await using var main = connect();
        await main.MkdirAsync(directory, true, cancellationToken);
        try
        {
            if (settings.BaselineDirectory is { } local)
            {
                results.AddRange(await RawDiskAsync(local, settings.Size, cancellationToken));
            }

            var seq = RemotePath.Combine(directory, "seq");
            results.Add(Mbps("seq_write_mbps", settings.Size, await TimeAsync(() => WriteFileAsync(main, seq, settings.Size, cancellationToken))));

            LastReadWasCold = DropPageCache(out var how);
            log.WriteLine($"gfs bench: cold read: {how}");
            results.Add(Mbps("seq_read_cold_mbps", settings.Size, await TimeAsync(() => ReadFileAsync(main, seq, settings.Size, cancellationToken))));
            await main.DeleteAsync(seq, false, cancellationToken);

            var share = Math.Max(1, settings.Size / 4);
            results.Add(Mbps("parallel4_write_mbps", share * 4, await WithClientsAsync(4, (fs, i) =>
                WriteFileAsync(fs, RemotePath.Combine(directory, $"parallel-{i}"), share, cancellationToken))));

            var one = RemotePath.Combine(directory, "small-1");
            var sixteen = RemotePath.Combine(directory, "small-16");
            await main.MkdirAsync(one, false, cancellationToken);
            await main.MkdirAsync(sixteen, false, cancellationToken);
            results.Add(PerSecond("create_1client_per_s", settings.Files, await WithClientsAsync(1, (fs, i) =>
                ForShareAsync(i, 1, settings.Files, n => WriteFileAsync(fs, SmallFile(one, n), SmallFileSize, cancellationToken)))));
            results.Add(PerSecond("create_16clients_per_s", settings.Files, await WithClientsAsync(16, (fs, i) =>
                ForShareAsync(i, 16, settings.Files, n => WriteFileAsync(fs, SmallFile(sixteen, n), SmallFileSize, cancellationToken)))));
            results.Add(PerSecond("stat_16clients_per_s", settings.Files, await WithClientsAsync(16, (fs, i) =>
                ForShareAsync(i, 16, settings.Files, n => fs.StatAsync(SmallFile(sixteen, n), cancellationToken)))));
            results.Add(PerSecond("delete_16clients_per_s", settings.Files, await WithClientsAsync(16, (fs, i) =>
                ForShareAsync(i, 16, settings.Files, n => fs.DeleteAsync(SmallFile(sixteen, n), false, cancellationToken)))));

            var directories = RemotePath.Combine(directory, "dirs");
            await main.MkdirAsync(directories, false, cancellationToken);
            results.Add(PerSecond("mkdir_per_s", settings.Files, await WithClientsAsync(1, (fs, i) =>
                ForShareAsync(i, 1, settings.Files, n => fs.MkdirAsync(RemotePath.Combine(directories, $"d{n:D6}"), false, cancellationToken)))));

            var log4 = RemotePath.Combine(directory, "append");
            await (await main.CreateAsync(log4, new GfsCreateOptions(), cancellationToken)).DisposeAsync();
            var records = Math.Max(1, (int)(share / AppendRecordSize));
            results.Add(Mbps("append_4clients_mbps", 4L * records * AppendRecordSize, await WithClientsAsync(4, (fs, i) =>
                ForShareAsync(0, 1, records, _ => fs.AppendRecordAsync(log4, Block.AsMemory(i * 4096, AppendRecordSize), cancellationToken)))));
        }
        finally
        {
            try
            {
                using var cleanup = new CancellationTokenSource(TimeSpan.FromMinutes(2));
                await main.DeleteAsync(directory, true, cleanup.Token);
            }
            catch (Exception e)
            {
                await log.WriteLineAsync($"gfs bench: could not remove {directory}: {e.Message}");
            }
        }

        return results;
    }

    /// <summary>Settings of the unmeasured warm-up pass: an eighth of the data (at least 64 MiB), a tenth of the files (at least 200), no raw-disk baseline, no cache drop.</summary>
    public static BenchSettings WarmupSettings(BenchSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new BenchSettings(Math.Min(settings.Size, Math.Max(64L << 20, settings.Size / 8)), Math.Min(settings.Files, Math.Max(200, settings.Files / 10)), DropCaches: false, BaselineDirectory: null);
    }

    /// <summary>The median over runs of each figure, in the order of the first run.</summary>
    public static IReadOnlyList<BenchResultJson> Median(IReadOnlyList<IReadOnlyList<BenchResultJson>> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        return runs[0].Select(first =>
        {
            var values = runs.Select(r => r.Single(x => x.Name == first.Name).Value).Order().ToList();
            var middle = values.Count / 2;
            var median = values.Count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
            return first with { Value = median };
        }).ToList();
    }

    internal static string SmallFile(string directory, int n) => RemotePath.Combine(directory, $"f{n:D6}");

    /// <summary>Indices <paramref name="worker"/>, worker + workers, … below <paramref name="count"/>, one after another.</summary>
    internal static async Task ForShareAsync(int worker, int workers, int count, Func<int, Task> action)
    {
        for (var n = worker; n < count; n += workers)
        {
            await action(n);
        }
    }

    internal static async Task WriteFileAsync(IGfsFileSystem fs, string path, long size, CancellationToken cancellationToken)
    {
        var stream = await fs.CreateAsync(path, new GfsCreateOptions { Replication = 3 }, cancellationToken);
        await using (stream)
        {
            var offset = (int)((uint)path.GetHashCode(StringComparison.Ordinal) % (Block.Length / 2)) & ~4095;
            for (long written = 0; written < size;)
            {
                var length = (int)Math.Min(size - written, Block.Length - offset);
                await stream.WriteAsync(Block.AsMemory(offset, length), cancellationToken);
                written += length;
                offset = 0;
            }

            await stream.FlushAsync(cancellationToken);
        }
    }

    internal static async Task ReadFileAsync(IGfsFileSystem fs, string path, long size, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(StreamCopy.BufferSize);
        try
        {
            await using var stream = await fs.OpenReadAsync(path, cancellationToken);
            long total = 0;
            int read;
            while ((read = await stream.ReadAsync(buffer.AsMemory(0, StreamCopy.BufferSize), cancellationToken)) > 0)
            {
                total += read;
            }

            if (total != size)
            {
                throw new InvalidOperationException($"read {total} bytes of {path}, expected {size}");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static BenchResultJson Mbps(string name, long bytes, TimeSpan elapsed) => new(name, "MB/s", Math.Round(Sizes.MegabytesPerSecond(bytes, elapsed), 1));

    private static BenchResultJson PerSecond(string name, long count, TimeSpan elapsed) => new(name, "ops/s", Math.Round(elapsed > TimeSpan.Zero ? count / elapsed.TotalSeconds : 0, 1));

    private static async Task<TimeSpan> TimeAsync(Func<Task> action)
    {
        var stopwatch = Stopwatch.StartNew();
        await action();
        return stopwatch.Elapsed;
    }

    /// <summary>Runs <paramref name="work"/> on <paramref name="clients"/> clients of their own at once; the wall time of all of them (connecting excluded).</summary>
    private async Task<TimeSpan> WithClientsAsync(int clients, Func<IGfsFileSystem, int, Task> work)
    {
        var connections = Enumerable.Range(0, clients).Select(_ => connect()).ToList();
        try
        {
            var stopwatch = Stopwatch.StartNew();
            await Task.WhenAll(connections.Select((fs, i) => Task.Run(() => work(fs, i))));
            return stopwatch.Elapsed;
        }
        finally
        {
            foreach (var fs in connections)
            {
                await fs.DisposeAsync();
            }
        }
    }

    /// <summary>sync, then echo 3 &gt; /proc/sys/vm/drop_caches: possible as root only (and only helps when the chunkservers run on this machine).</summary>
    /// <summary>
    /// The baseline of the same run: the raw local disk writing <paramref name="size"/> bytes in 8 MiB
    /// writes with one fsync at the end, then reading them back after the page cache was dropped.
    /// </summary>
    private async Task<IReadOnlyList<BenchResultJson>> RawDiskAsync(string directory, long size, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"gfs-bench-raw-{Guid.NewGuid():N}");
        try
        {
            var write = await TimeAsync(async () =>
            {
                await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
                for (long written = 0; written < size;)
                {
                    var length = (int)Math.Min(size - written, Block.Length);
                    await file.WriteAsync(Block.AsMemory(0, length), cancellationToken);
                    written += length;
                }

                file.Flush(flushToDisk: true);
            });
            DropPageCache(out _);
            var buffer = ArrayPool<byte>.Shared.Rent(Block.Length);
            try
            {
                var read = await TimeAsync(async () =>
                {
                    await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
                    while (await file.ReadAsync(buffer.AsMemory(0, Block.Length), cancellationToken) > 0)
                    {
                    }
                });
                File.Delete(path);
                var direct = RawDirectWrite(path, size);
                await log.WriteLineAsync($"gfs bench: raw disk baseline in {directory}");
                return [Mbps("raw_disk_write_mbps", size, write), Mbps("raw_disk_write_direct_mbps", size, direct), Mbps("raw_disk_read_cold_mbps", size, read)];
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// The same bytes written around the page cache: O_DIRECT 8 MiB writes from aligned memory, one fdatasync at the
    /// end (what the chunkservers do with appended chunk data). A last partial unit is written whole and cut back.
    /// </summary>
    private static unsafe TimeSpan RawDirectWrite(string path, long size)
    {
        const int O_WRONLY = 0x1, O_CREAT = 0x40, O_EXCL = 0x80, O_DIRECT = 0x4000, O_CLOEXEC = 0x80000;
        using var source = AlignedBufferPool.Shared.Rent(Block.Length);
        Block.CopyTo(source.GetSpan());
        var sw = Stopwatch.StartNew();
        var fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC, 0x180 /* 0600 */);
        if (fd < 0)
        {
            throw new IOException($"open {path} with O_DIRECT failed: errno {Marshal.GetLastPInvokeError()}");
        }

        using var file = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        using var pin = source.Pin();
        for (long written = 0; written < size;)
        {
            var length = (int)Math.Min(size - written, Block.Length);
            var unit = (length + AlignedBufferPool.Alignment - 1) & ~(AlignedBufferPool.Alignment - 1);
            var n = pwrite(fd, (byte*)pin.Pointer, (nuint)unit, written);
            if (n < unit)
            {
                throw new IOException($"O_DIRECT write to {path} failed: errno {Marshal.GetLastPInvokeError()}");
            }

            written += length;
        }

        if (size % AlignedBufferPool.Alignment != 0)
        {
            RandomAccess.SetLength(file, size);
        }

        if (fdatasync(fd) != 0)
        {
            throw new IOException($"fdatasync of {path} failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return sw.Elapsed;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint pwrite(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fdatasync(int fd);

    private bool DropPageCache(out string how)
    {
        if (!settings.DropCaches)
        {
            how = "warm (page cache not dropped: disabled)";
            return false;
        }

        if (!Environment.IsPrivilegedProcess)
        {
            how = "warm (page cache not dropped: not running as root)";
            return false;
        }

        try
        {
            sync();
            File.WriteAllText("/proc/sys/vm/drop_caches", "3");
            how = "cold (synced and dropped the page cache)";
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            how = $"warm (could not drop the page cache: {e.Message})";
            return false;
        }
    }

    private static byte[] MakeBlock()
    {
        var block = GC.AllocateUninitializedArray<byte>(StreamCopy.BufferSize);
        new Random(20031019).NextBytes(block);
        return block;
    }

    [LibraryImport("libc")]
    private static partial void sync();
}

/// <summary>What <c>gfs bench</c> measures with.</summary>
internal sealed record BenchSettings(long Size, int Files, bool DropCaches = true, string? BaselineDirectory = null);
