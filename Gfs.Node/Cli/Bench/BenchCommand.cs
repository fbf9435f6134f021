using System.CommandLine;
using System.Globalization;
using Gfs.Node.Cli.Client;
using Gfs.Node.Cli.Dev;

namespace Gfs.Node.Cli.Bench;

/// <summary><c>gfs bench</c>: throughput and metadata rates of a cluster (a temporary local one when none is configured).</summary>
internal static class BenchCommand
{
    /// <summary>Names, units and descriptions of the figures, in the order they are measured and printed.</summary>
    public static readonly IReadOnlyList<(string Name, string Unit, string Description)> Figures =
    [
        ("raw_disk_write_mbps", "MB/s", "baseline: the local disk, 8 MiB writes + fsync"),
        ("raw_disk_write_direct_mbps", "MB/s", "baseline: the local disk, 8 MiB O_DIRECT writes + fdatasync"),
        ("raw_disk_read_cold_mbps", "MB/s", "baseline: the local disk, read after dropping the page cache"),
        ("seq_write_mbps", "MB/s", "sequential write, 1 file, replication 3"),
        ("seq_read_cold_mbps", "MB/s", "sequential read of that file"),
        ("parallel4_write_mbps", "MB/s", "4 clients writing --size/4 each"),
        ("create_1client_per_s", "ops/s", "create + 4 KiB + close, 1 client"),
        ("create_16clients_per_s", "ops/s", "create + 4 KiB + close, 16 clients"),
        ("stat_16clients_per_s", "ops/s", "stat, 16 clients"),
        ("delete_16clients_per_s", "ops/s", "delete, 16 clients"),
        ("mkdir_per_s", "ops/s", "mkdir, 1 client"),
        ("append_4clients_mbps", "MB/s", "record append, 1 MiB records, 4 clients"),
    ];

    public static Command Create(CliHost host)
    {
        var masters = ClientCommand.MastersOption();
        var size = new Option<string>("--size") { Description = "Bytes of the sequential file (and in total for the parallel writers and the appenders).", DefaultValueFactory = _ => "1GiB" };
        var files = new Option<int>("--files") { Description = "Small files created (4 KiB each) per create figure; also the stat, delete and mkdir count.", DefaultValueFactory = _ => 10_000 };
        var runs = new Option<int>("--runs") { Description = "Repeat everything this many times and report the median.", DefaultValueFactory = _ => 1 };
        var json = ClientCommand.JsonOption();
        var noDrop = new Option<bool>("--no-drop-caches") { Description = "Do not drop the page cache before the read, even as root." };
        var baseline = new Option<string?>("--baseline-dir") { Description = "Measure the raw local disk here first, in the same run (default: the temporary directory; none when a cluster is given and this is not)." };
        var noWarmup = new Option<bool>("--no-warmup") { Description = "Skip the unmeasured warm-up pass (a smaller run of every measurement first, so that the processes' code is compiled before anything is timed)." };
        var chunkservers = new Option<int>("--chunkservers") { Description = "Chunkservers of the temporary cluster started when no masters are configured.", DefaultValueFactory = _ => 3 };
        var command = new Command("bench", "Measure a cluster: sequential and parallel write, cold read, small-file create, stat, delete, mkdir and record-append rates.")
        {
            masters, size, files, runs, json, noDrop, chunkservers, baseline, noWarmup,
        };
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                if (!Sizes.TryParse(parse.GetRequiredValue(size), out var bytes) || bytes <= 0)
                {
                    throw ClientCommand.Usage($"--size must be a positive size like 1GiB, not '{parse.GetValue(size)}'");
                }

                if (parse.GetValue(files) < 1 || parse.GetValue(runs) < 1 || parse.GetValue(chunkservers) < 3)
                {
                    throw ClientCommand.Usage("--files and --runs must be at least 1, --chunkservers at least 3 (files are written with replication 3)");
                }

                return await RunAsync(host, parse.GetValue(masters), new BenchSettings(bytes, parse.GetValue(files), !parse.GetValue(noDrop), parse.GetValue(baseline)), parse.GetValue(runs), parse.GetValue(chunkservers), !parse.GetValue(noWarmup), parse.GetValue(json), ct);
            }
            catch (Exception e)
            {
                return ClientCommand.Fail(host, e, null, ct.IsCancellationRequested);
            }
        });
        return command;
    }

    private static async Task<int> RunAsync(CliHost host, string? mastersFlag, BenchSettings settings, int runs, int chunkservers, bool warmup, bool json, CancellationToken cancellationToken)
    {
        var configured = MastersResolver.TryResolve(mastersFlag, host.GetEnvironmentVariable, host.HomeDirectory);
        DevCluster? cluster = null;
        string? temporary = null;
        try
        {
            IReadOnlyList<Uri> masters;
            if (configured is { } found)
            {
                masters = found.Masters;
                await host.Error.WriteLineAsync($"gfs bench: against {string.Join(',', masters)} (from {found.Source})");
            }
            else
            {
                temporary = Path.Combine(Path.GetTempPath(), $"gfs-bench-{Guid.NewGuid():N}");
                await host.Error.WriteLineAsync($"gfs bench: no masters configured: starting a temporary cluster ({chunkservers} chunkservers) in {temporary}");
                cluster = await DevCluster.StartAsync(temporary, chunkservers, host.Error, TimeSpan.FromSeconds(60), cancellationToken);
                masters = cluster.MasterUrls;
                settings = settings with { BaselineDirectory = settings.BaselineDirectory ?? temporary };
            }

            var runner = new BenchRunner(() => host.Connect(masters), settings, host.Error);
            if (warmup)
            {
                // .NET compiles code on first use and recompiles hot code a while later: the first seconds of fresh
                // processes (a temporary cluster, and this client always) run slower and burn CPU in the JIT.
                var warm = BenchRunner.WarmupSettings(settings);
                await host.Error.WriteLineAsync($"gfs bench: warm-up pass, not measured ({Sizes.Human(warm.Size)}, {warm.Files} small files)");
                await new BenchRunner(() => host.Connect(masters), warm, TextWriter.Null).RunOnceAsync($"/gfs-bench-warmup-{Guid.NewGuid():N}", cancellationToken);
            }

            var all = new List<IReadOnlyList<BenchResultJson>>();
            for (var run = 0; run < runs; run++)
            {
                await host.Error.WriteLineAsync($"gfs bench: run {run + 1} of {runs} ({Sizes.Human(settings.Size)}, {settings.Files} small files)");
                all.Add(await runner.RunOnceAsync($"/gfs-bench-{Guid.NewGuid():N}", cancellationToken));
            }

            var results = BenchRunner.Median(all);
            if (json)
            {
                CliJson.Write(host.Out, new BenchJson(results));
            }
            else
            {
                foreach (var line in Table(results, all, runner.LastReadWasCold))
                {
                    await host.Out.WriteLineAsync(line);
                }
            }

            return ExitCodes.Ok;
        }
        finally
        {
            if (cluster is not null)
            {
                await cluster.DisposeAsync();
            }

            if (temporary is not null)
            {
                try
                {
                    Directory.Delete(temporary, recursive: true);
                }
                catch (IOException e)
                {
                    await host.Error.WriteLineAsync($"gfs bench: could not remove {temporary}: {e.Message}");
                }
            }
        }
    }

    /// <summary>One line per figure: name, value (median), unit, min–max over runs when there are several, and what it measures.</summary>
    internal static IReadOnlyList<string> Table(IReadOnlyList<BenchResultJson> results, IReadOnlyList<IReadOnlyList<BenchResultJson>> runs, bool cold)
    {
        var lines = new List<string>();
        var nameWidth = Figures.Max(f => f.Name.Length);
        var spread = runs.Count > 1;
        lines.Add($"{"figure".PadRight(nameWidth)}  {"value",10}  {"unit",-5}{(spread ? "  " + "min–max".PadRight(19) : "")}  what");
        foreach (var result in results)
        {
            var description = Figures.FirstOrDefault(f => f.Name == result.Name).Description ?? "";
            if (result.Name == "seq_read_cold_mbps" && !cold)
            {
                description += " (warm: page cache not dropped)";
            }

            var range = "";
            if (spread)
            {
                var values = runs.Select(r => r.Single(x => x.Name == result.Name).Value).ToList();
                range = "  " + string.Create(CultureInfo.InvariantCulture, $"{values.Min():0.0}–{values.Max():0.0}").PadRight(19);
            }

            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{result.Name.PadRight(nameWidth)}  {result.Value,10:0.0}  {result.Unit,-5}{range}  {description}"));
        }

        return lines;
    }
}
