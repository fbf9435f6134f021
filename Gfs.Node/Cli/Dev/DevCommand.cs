using System.CommandLine;
using System.Diagnostics;

namespace Gfs.Node.Cli.Dev;

/// <summary><c>gfs dev</c>: a local cluster (3 masters, N chunkservers) in one command, until Ctrl+C.</summary>
internal static class DevCommand
{
    /// <summary>Start of the machine-readable line printed last, once the cluster serves: <c>gfs dev ready: masters=&lt;url&gt;,&lt;url&gt;,&lt;url&gt;</c>.</summary>
    public const string ReadyMarker = "gfs dev ready";

    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Directory for all data and logs; a second run on it restarts the same cluster.", DefaultValueFactory = _ => "./gfs-dev" };
        var chunkservers = new Option<int>("--chunkservers") { Description = "Number of chunkservers (0: masters only, for namespace work).", DefaultValueFactory = _ => 3 };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the cluster to be ready.", DefaultValueFactory = _ => 60 };
        var command = new Command("dev", "Run a local cluster (3 masters and N chunkservers on loopback) until Ctrl+C.") { data, chunkservers, timeout };
        command.SetAction((parse, ct) => RunAsync(parse.GetRequiredValue(data), parse.GetValue(chunkservers), TimeSpan.FromSeconds(parse.GetValue(timeout)), ct));
        return command;
    }

    private static async Task<int> RunAsync(string data, int chunkservers, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (chunkservers is < 0 or > 64)
        {
            await Console.Error.WriteLineAsync($"gfs dev: --chunkservers must be between 0 and 64, not {chunkservers}");
            return 2;
        }

        var stopwatch = Stopwatch.StartNew();
        DevCluster cluster;
        try
        {
            cluster = await DevCluster.StartAsync(data, chunkservers, Console.Error, timeout, cancellationToken);
        }
        catch (DevException e)
        {
            await Console.Error.WriteLineAsync($"gfs dev: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("gfs dev: interrupted while starting; stopped every process");
            return 130;
        }

        await using (cluster)
        {
            var members = cluster.Children.Select(c => (c.Name, c.Url)).ToList();
            var gfs = SelfProcess.UserCommand(Environment.GetEnvironmentVariable("PATH"), File.Exists);
            foreach (var line in Summary(cluster.MasterUrls, members, cluster.Leader, cluster.DataDirectory, cluster.LogDirectory, DevCluster.Seconds(stopwatch), gfs))
            {
                Console.WriteLine(line);
            }

            // Stay up until Ctrl+C / SIGTERM, or until a child dies.
            var stop = Task.Delay(Timeout.Infinite, cancellationToken);
            var finished = await Task.WhenAny(stop, cluster.AnyExited);
            if (finished == cluster.AnyExited)
            {
                // Ctrl+C in a terminal signals the children too: an exit just before our own cancellation is a stop, not a crash.
                await Task.WhenAny(Task.Delay(500, CancellationToken.None), stop);
                if (!cancellationToken.IsCancellationRequested)
                {
                    var dead = await cluster.AnyExited;
                    await Console.Error.WriteLineAsync($"gfs dev: {dead.Name} exited with code {await dead.Exited}; stopping the cluster. The end of {dead.LogPath}:\n{dead.Tail(20)}");
                    await cluster.StopAsync(DevCluster.StopGrace);
                    return 1;
                }
            }

            await Console.Error.WriteLineAsync($"gfs dev: stopping {cluster.Children.Count} processes …");
            await cluster.StopAsync(DevCluster.StopGrace);
            await Console.Error.WriteLineAsync($"gfs dev: stopped; the data stays in {cluster.DataDirectory} for the next run");
            return 0;
        }
    }

    /// <summary>What gfs dev prints on stdout once ready; the last line is <see cref="ReadyMarker"/>.</summary>
    internal static IReadOnlyList<string> Summary(
        IReadOnlyList<Uri> masterUrls, IReadOnlyList<(string Name, Uri Url)> members, Uri? leaderUrl, string dataDirectory, string logDirectory, string seconds, string gfs)
    {
        var masters = string.Join(',', masterUrls.Select(u => u.ToString().TrimEnd('/')));
        var lines = new List<string> { $"gfs dev: cluster ready in {seconds} s (data in {dataDirectory}, logs in {logDirectory})" };
        var width = members.Max(c => c.Name.Length);
        foreach (var (name, url) in members)
        {
            var leader = url == leaderUrl ? "  (leader)" : "";
            lines.Add($"  {name.PadRight(width)}  {url.ToString().TrimEnd('/')}{leader}");
        }

        lines.AddRange(
        [
            "",
            "Use it from another shell:",
            $"  export GFS_MASTERS={masters}",
            $"  {gfs} put ./README.md /hello.txt",
            $"  {gfs} ls -l /",
            $"  {gfs} cat /hello.txt",
            $"  {gfs} get /hello.txt ./hello-copy.txt",
            $"  {gfs} df -h",
            "",
            $"Press Ctrl+C to stop; the data stays in {dataDirectory} for the next run.",
            $"{ReadyMarker}: masters={masters}",
        ]);
        return lines;
    }
}
