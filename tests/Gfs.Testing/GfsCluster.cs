using System.Globalization;
using Gfs.Client;
using Gfs.Client.Protocol;

namespace Gfs.Testing;

/// <summary>
/// A whole cluster of real processes: three <c>gfs master</c> replicas and N <c>gfs chunkserver</c>s
/// on loopback. Chunkservers keep their port and data directory across restarts, so a restarted one
/// comes back with its old identity and its old (possibly stale) replicas.
/// </summary>
public sealed class GfsCluster : IAsyncDisposable
{
    private readonly TempDirectory directory = new("gfs-cluster");
    private readonly List<string> pastOutput = [];
    private readonly GfsProcess?[] chunkservers;
    private readonly string[] chunkserverArguments;

    private GfsCluster(MasterCluster masters, int chunkserverCount, string[] chunkserverArguments, Func<int, string>? chunkserverHost)
    {
        Masters = masters;
        this.chunkserverArguments = chunkserverArguments;
        chunkservers = new GfsProcess?[chunkserverCount];
        ChunkserverUrls = Enumerable.Range(0, chunkserverCount).Select(i => new Uri($"http://{chunkserverHost?.Invoke(i) ?? "127.0.0.1"}:{FreePort.Next()}")).ToArray();
        ChunkserverIds = new string[chunkserverCount];
    }

    public MasterCluster Masters { get; }

    public IReadOnlyList<Uri> ChunkserverUrls { get; }

    /// <summary>Server ids from the readiness lines (empty until a chunkserver started once).</summary>
    public string[] ChunkserverIds { get; }

    public int ChunkserverCount => chunkservers.Length;

    public GfsClientOptions ClientOptions => Masters.ClientOptions;

    /// <summary>The masters' URLs, comma-separated, as <c>--masters</c> takes them.</summary>
    public string MastersArgument => string.Join(',', Masters.Urls);

    /// <summary>
    /// Starts the masters (with <paramref name="masterArguments"/>) and <paramref name="chunkserverCount"/>
    /// chunkservers, and waits until the leader knows every chunkserver. <paramref name="chunkserverHost"/>
    /// gives chunkserver i its own loopback address (for example 127.0.0.{i + 1}), so that a client
    /// whose host is one of them has that server nearest; by default all listen on 127.0.0.1.
    /// </summary>
    /// <remarks>Masters and chunkservers run with the product's defaults (60 s leases, dead after 10 s, 1 s heartbeats) unless told otherwise.</remarks>
    public static async Task<GfsCluster> StartAsync(int chunkserverCount = 4, string[]? masterArguments = null, string[]? chunkserverArguments = null, Func<int, string>? chunkserverHost = null)
    {
        var masters = await MasterCluster.StartAsync(masterArguments ?? []);
        var cluster = new GfsCluster(masters, chunkserverCount, chunkserverArguments ?? [], chunkserverHost);
        try
        {
            for (var i = 0; i < chunkserverCount; i++)
            {
                cluster.LaunchChunkserver(i);
            }

            for (var i = 0; i < chunkserverCount; i++)
            {
                await cluster.WaitChunkserverReadyAsync(i);
            }

            await cluster.WaitChunkserversKnownAsync(chunkserverCount);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public bool IsChunkserverRunning(int index) => chunkservers[index] is { HasExited: false };

    /// <summary>The operating-system process id of chunkserver <paramref name="index"/>.</summary>
    public int ChunkserverProcessId(int index) => (chunkservers[index] ?? throw new InvalidOperationException($"chunkserver {index} is not running")).Id;

    /// <summary>The index of the chunkserver with this id, or -1.</summary>
    public int ChunkserverIndex(string serverId) => Array.IndexOf(ChunkserverIds, serverId);

    public void LaunchChunkserver(int index)
    {
        if (chunkservers[index] is not null)
        {
            throw new InvalidOperationException($"chunkserver {index} is running");
        }

        chunkservers[index] = GfsProcess.Start(
            [
                "chunkserver",
                "--masters", MastersArgument,
                "--data", directory.Combine($"cs{index.ToString(CultureInfo.InvariantCulture)}"),
                "--listen", ChunkserverUrls[index].ToString(),
                .. chunkserverArguments,
            ],
            readyMarker: "gfs chunkserver ready");
    }

    public async Task WaitChunkserverReadyAsync(int index)
    {
        var line = await (chunkservers[index] ?? throw new InvalidOperationException($"chunkserver {index} is not running")).WaitReadyAsync(TimeSpan.FromSeconds(60));
        var id = line.Split(' ').FirstOrDefault(p => p.StartsWith("id=", StringComparison.Ordinal))?[3..];
        ChunkserverIds[index] = id ?? throw new InvalidOperationException($"no id= in the readiness line '{line}'");
    }

    /// <summary>SIGKILL one chunkserver.</summary>
    public void KillChunkserver(int index)
    {
        if (chunkservers[index] is { } process)
        {
            process.Kill();
            pastOutput.Add($"--- chunkserver {index} (killed) ---\n{process.Output}");
            chunkservers[index] = null;
        }
    }

    /// <summary>SIGSTOP one chunkserver: it keeps its sockets and state but answers nothing until <see cref="ResumeChunkserver"/>.</summary>
    public void PauseChunkserver(int index) => (chunkservers[index] ?? throw new InvalidOperationException($"chunkserver {index} is not running")).Pause();

    /// <summary>SIGCONT a paused chunkserver.</summary>
    public void ResumeChunkserver(int index) => (chunkservers[index] ?? throw new InvalidOperationException($"chunkserver {index} is not running")).Resume();

    public async Task RestartChunkserverAsync(int index)
    {
        KillChunkserver(index);
        LaunchChunkserver(index);
        await WaitChunkserverReadyAsync(index);
    }

    /// <summary>Waits until the leader counts <paramref name="live"/> chunkservers alive.</summary>
    public async Task WaitChunkserversKnownAsync(int live, TimeSpan? timeout = null)
    {
        using var client = new MasterClient(ClientOptions);
        try
        {
            await Retry.Until($"the leader knows {live} live chunkservers", async () =>
            {
                try
                {
                    var leader = await Masters.LeaderIndexAsync(client);
                    var status = await client.StatusAsync(Masters.Urls[leader]);
                    return status.IsLeader && status.Chunkservers.Count(c => !c.Dead) == live;
                }
                catch (GfsException)
                {
                    return false;
                }
            }, timeout ?? TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\ncluster output:\n{Output()}", e);
        }
    }

    public string Output()
    {
        var current = chunkservers.Select((p, i) => p is null ? "" : $"--- chunkserver {i} ---\n{p.Output}");
        return string.Join('\n', pastOutput.Concat(current).Append(Masters.Output()));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in chunkservers)
        {
            if (process is not null)
            {
                await process.DisposeAsync();
            }
        }

        await Masters.DisposeAsync();
        directory.Dispose();
    }
}
