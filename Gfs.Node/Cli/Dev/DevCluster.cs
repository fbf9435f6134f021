using System.Diagnostics;
using Gfs.Client;
using Gfs.Client.Protocol.Master;

namespace Gfs.Node.Cli.Dev;

/// <summary>
/// A whole cluster on loopback, as child processes of this gfs: three masters and N chunkservers,
/// data under one directory (master-1..3, chunkserver-1..N, logs/), ports kept in cluster.json.
/// Used by <c>gfs dev</c> and by <c>gfs bench</c> when no cluster is configured.
/// </summary>
internal sealed class DevCluster : IAsyncDisposable
{
    public const string ChunkserverReadyMarker = ChunkserverCommand.ReadyMarker;
    public const string LockFileName = ".gfs-dev.lock";
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    private readonly List<ChildProcess> children;
    private readonly FileStream lockFile;

    private DevCluster(string dataDirectory, DevLayout layout, int chunkservers, List<ChildProcess> children, FileStream lockFile)
    {
        DataDirectory = dataDirectory;
        Layout = layout;
        ChunkserverCount = chunkservers;
        this.children = children;
        this.lockFile = lockFile;
        AnyExited = Task.WhenAny(children.Select(async c =>
        {
            await c.Exited;
            return c;
        })).Unwrap();
    }

    public string DataDirectory { get; }

    public DevLayout Layout { get; }

    public int ChunkserverCount { get; }

    public IReadOnlyList<Uri> MasterUrls => Layout.MasterUrls;

    public IReadOnlyList<ChildProcess> Children => children;

    public Uri? Leader { get; private set; }

    public string LogDirectory => Path.Combine(DataDirectory, "logs");

    /// <summary>Completes with the first child that exits.</summary>
    public Task<ChildProcess> AnyExited { get; }

    /// <summary>Starts every process and returns once all printed their readiness line, a leader is elected and knows every chunkserver.</summary>
    public static async Task<DevCluster> StartAsync(string dataDirectory, int chunkservers, TextWriter status, TimeSpan timeout, CancellationToken cancellationToken)
    {
        dataDirectory = Path.GetFullPath(dataDirectory);
        Directory.CreateDirectory(Path.Combine(dataDirectory, "logs"));
        var lockFile = Lock(dataDirectory);
        var children = new List<ChildProcess>();
        DevCluster? cluster = null;
        try
        {
            var layoutPath = Path.Combine(dataDirectory, DevLayout.FileName);
            var saved = DevLayout.Load(layoutPath);
            var layout = DevLayout.Plan(saved, chunkservers, layoutPath, DevLayout.AllocatePort, DevLayout.IsPortFree);
            layout.Save(layoutPath);
            await status.WriteLineAsync($"gfs dev: {(saved is null ? "new cluster" : "restarting the cluster")} in {dataDirectory}");

            var peers = string.Join(',', layout.MasterUrls.Select(u => u.ToString().TrimEnd('/')));
            foreach (var (name, port, isMaster) in layout.Members(chunkservers))
            {
                var url = DevLayout.Url(port);
                var data = Path.Combine(dataDirectory, name);
                var log = Path.Combine(dataDirectory, "logs", name + ".log");
                string[] arguments = isMaster
                    ? ["master", "--id", (int.Parse(name["master-".Length..], System.Globalization.CultureInfo.InvariantCulture) - 1).ToString(System.Globalization.CultureInfo.InvariantCulture), "--peers", peers, "--data", data]
                    : ["chunkserver", "--masters", peers, "--data", data, "--listen", url.ToString().TrimEnd('/')];
                children.Add(ChildProcess.Start(name, url, arguments, log, isMaster ? MasterCommand.ReadyMarker : ChunkserverReadyMarker));
            }

            cluster = new DevCluster(dataDirectory, layout, chunkservers, children, lockFile);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            try
            {
                await cluster.WaitReadyAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new DevException($"the cluster was not ready within {timeout.TotalSeconds:0} s: {cluster.Describe()}");
            }

            return cluster;
        }
        catch
        {
            if (cluster is not null)
            {
                await cluster.DisposeAsync();
            }
            else
            {
                foreach (var child in children)
                {
                    await child.DisposeAsync();
                }

                await lockFile.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>SIGTERM to every child at once, SIGKILL to those still running after the grace period.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        await Task.WhenAll(children.Select(c => c.StopAsync(grace)));
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(StopGrace);
        foreach (var child in children)
        {
            await child.DisposeAsync();
        }

        await lockFile.DisposeAsync();
        try
        {
            File.Delete(Path.Combine(DataDirectory, LockFileName));
        }
        catch (IOException)
        {
            // Harmless: the lock is the open handle, not the file.
        }
    }

    private static FileStream Lock(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, LockFileName);
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new DevException($"another gfs dev is using {dataDirectory} (it holds {path}); stop it first, or pick another --data directory");
        }
    }

    private async Task WaitReadyAsync(CancellationToken cancellationToken)
    {
        // 1. Every process says it is ready (a child that exits first fails this at once).
        var ready = Task.WhenAll(children.Select(c => c.Ready));
        var died = AnyExited;
        if (await Task.WhenAny(ready, died).WaitAsync(cancellationToken) == died)
        {
            var dead = await died;
            throw new DevException($"{dead.Name} exited with code {await dead.Exited} while starting; the end of {dead.LogPath}:\n{dead.Tail(20)}");
        }

        // 2. A leader, and 3. every chunkserver known to it and alive.
        using var client = new MasterClient(new GfsClientOptions { Masters = MasterUrls, AttemptTimeout = TimeSpan.FromSeconds(2) });
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (died.IsCompleted)
            {
                var dead = await died;
                throw new DevException($"{dead.Name} exited with code {await dead.Exited}; the end of {dead.LogPath}:\n{dead.Tail(20)}");
            }

            var leader = await FindLeaderAsync(client, cancellationToken);
            if (leader is not null)
            {
                Leader = leader.Value.Url;
                if (leader.Value.Status.Chunkservers.Count(c => !c.Dead) >= ChunkserverCount)
                {
                    return;
                }
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private async Task<(Uri Url, StatusReply Status)?> FindLeaderAsync(MasterClient client, CancellationToken cancellationToken)
    {
        foreach (var master in MasterUrls)
        {
            try
            {
                var status = await client.StatusAsync(master, cancellationToken: cancellationToken);
                if (status.IsLeader)
                {
                    return (master, status);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Not up yet, or not answering: ask the next one.
            }
        }

        return null;
    }

    /// <summary>What is missing, for a timeout message.</summary>
    private string Describe()
    {
        var notReady = children.Where(c => !c.Ready.IsCompletedSuccessfully).Select(c => $"{c.Name} (log {c.LogPath})").ToList();
        if (notReady.Count > 0)
        {
            return "no readiness line from " + string.Join(", ", notReady);
        }

        return Leader is null
            ? $"no leader elected among the masters (logs in {LogDirectory})"
            : $"the leader {Leader} does not know all {ChunkserverCount} chunkservers yet (logs in {LogDirectory})";
    }

    /// <summary>How long a start took, for the summary.</summary>
    public static string Seconds(Stopwatch stopwatch) => stopwatch.Elapsed.TotalSeconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
}
