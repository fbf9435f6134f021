using Gfs.Client;
using Gfs.Client.Protocol.Master;

namespace Gfs.Testing;

/// <summary>
/// Three real <c>gfs master</c> processes on loopback ports with their data in a temp directory.
/// Replicas can be killed (SIGKILL), paused and restarted by index; their output is kept for
/// failure messages.
/// </summary>
public sealed class MasterCluster : IAsyncDisposable
{
    private readonly GfsProcess?[] processes = new GfsProcess?[3];
    private readonly TempDirectory directory = new("gfs-masters");
    private readonly List<string> pastOutput = [];
    private readonly string[] extraArguments;
    private readonly Func<int, IReadOnlyList<string>?>? wrapper;

    private MasterCluster(string[] extraArguments, Func<int, IReadOnlyList<string>?>? wrapper = null)
    {
        this.extraArguments = extraArguments;
        this.wrapper = wrapper;
        Urls = Enumerable.Range(0, 3).Select(_ => new Uri($"http://127.0.0.1:{FreePort.Next()}")).ToArray();
    }

    public IReadOnlyList<Uri> Urls { get; }

    /// <summary>Client options as a user gets them: the product's defaults, with these masters.</summary>
    public GfsClientOptions ClientOptions => new() { Masters = Urls };

    public static async Task<MasterCluster> StartAsync(params string[] extraArguments)
    {
        var cluster = new MasterCluster(extraArguments);
        await cluster.LaunchAllAsync();
        return cluster;
    }

    /// <summary>
    /// Like <see cref="StartAsync(string[])"/>, but each launch of replica i runs under the program
    /// <paramref name="wrapper"/>(i) returns (for example strace), or plainly where it returns null.
    /// </summary>
    public static async Task<MasterCluster> StartAsync(Func<int, IReadOnlyList<string>?> wrapper, params string[] extraArguments)
    {
        var cluster = new MasterCluster(extraArguments, wrapper);
        await cluster.LaunchAllAsync();
        return cluster;
    }

    /// <summary>Starts every replica that is not running and waits until all are ready.</summary>
    public async Task LaunchAllAsync()
    {
        var stopped = Enumerable.Range(0, 3).Where(i => processes[i] is null).ToList();
        foreach (var i in stopped)
        {
            Launch(i);
        }

        foreach (var i in stopped)
        {
            await WaitReadyAsync(i);
        }
    }

    public bool IsRunning(int index) => processes[index] is { HasExited: false };

    public void Kill(int index)
    {
        if (processes[index] is { } process)
        {
            process.Kill();
            pastOutput.Add($"--- master {index} (killed) ---\n{process.Output}");
            processes[index] = null;
        }
    }

    public void KillAll()
    {
        for (var i = 0; i < 3; i++)
        {
            Kill(i);
        }
    }

    public async Task RestartAsync(int index)
    {
        Kill(index);
        Launch(index);
        await WaitReadyAsync(index);
    }

    public void Launch(int index)
    {
        if (processes[index] is not null)
        {
            throw new InvalidOperationException($"master {index} is running");
        }

        processes[index] = GfsProcess.Start(
            [
                "master", "--id", index.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--peers", string.Join(',', Urls),
                "--data", directory.Combine($"m{index}"),
                .. extraArguments,
            ],
            readyMarker: "gfs master ready",
            wrapper: wrapper?.Invoke(index));
    }

    public async Task WaitReadyAsync(int index)
        => await (processes[index] ?? throw new InvalidOperationException($"master {index} is not running")).WaitReadyAsync(TimeSpan.FromSeconds(60));

    /// <summary>Index of the replica that says it leads, waiting until one does.</summary>
    public async Task<int> LeaderIndexAsync(MasterClient client, TimeSpan? timeout = null)
    {
        var leader = -1;
        await Retry.Until("a master leads", async () =>
        {
            for (var i = 0; i < 3; i++)
            {
                if (!IsRunning(i))
                {
                    continue;
                }

                try
                {
                    if ((await client.StatusAsync(Urls[i])).IsLeader)
                    {
                        leader = i;
                        return true;
                    }
                }
                catch (Gfs.Client.Protocol.GfsException)
                {
                    // starting or unreachable: ask the next one
                }
            }

            return false;
        }, timeout ?? TimeSpan.FromSeconds(30));
        return leader;
    }

    /// <summary>Waits until every running replica has applied the same log and holds the same state.</summary>
    public async Task<StatusReply[]> WaitConvergedAsync(MasterClient client, TimeSpan timeout)
    {
        StatusReply[] statuses = [];
        try
        {
            await Retry.Until("every replica holds the same state", async () =>
            {
                var running = Enumerable.Range(0, 3).Where(IsRunning).ToList();
                statuses = await Task.WhenAll(running.Select(i => client.StatusAsync(Urls[i], includeStateHash: true)));
                return statuses.Select(s => (s.AppliedIndex, s.StateHash)).Distinct().Count() == 1;
            }, timeout, TimeSpan.FromMilliseconds(200));
        }
        catch (TimeoutException e)
        {
            var seen = string.Join("; ", statuses.Select(s => $"member {s.MemberId}: applied {s.AppliedIndex}, hash {s.StateHash:x}, files {s.Files}, leader {s.IsLeader}"));
            throw new TimeoutException($"{e.Message}\nlast statuses: {seen}\ncluster output:\n{Output()}", e);
        }

        return statuses;
    }

    public string Output()
    {
        var current = processes.Select((p, i) => p is null ? "" : $"--- master {i} ---\n{p.Output}");
        return string.Join('\n', pastOutput.Concat(current));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in processes)
        {
            if (process is not null)
            {
                await process.DisposeAsync();
            }
        }

        directory.Dispose();
    }
}
