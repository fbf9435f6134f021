using System.Net;
using Gfs.Consensus;
using Gfs.Master.Commands;
using Gfs.Master.Replication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gfs.Testing;

/// <summary>
/// Three master replicas in this process over real HTTP/2 on loopback (Raft only, no client RPCs):
/// for tests and benchmarks of the replicated state. Real processes are <see cref="MasterCluster"/>.
/// </summary>
public sealed class InProcessMasterCluster : IAsyncDisposable
{
    private readonly TempDirectory? temp;
    private readonly string root;
    private readonly int[] ports = [.. Enumerable.Range(0, 3).Select(_ => FreePort.Next())];
    private readonly WebApplication?[] apps = new WebApplication?[3];

    /// <summary>Creates a cluster whose data lives under <paramref name="root"/>, or in a temp directory removed at dispose.</summary>
    public InProcessMasterCluster(string? root = null)
    {
        temp = root is null ? new TempDirectory("gfs-master") : null;
        this.root = root ?? temp!.Path;
    }

    /// <summary>How long waits for a leader or for replicas to catch up may take.</summary>
    public static TimeSpan Patience => TimeSpan.FromSeconds(30);

    public long SnapshotLogBytes { get; init; } = new GfsRaftOptions().SnapshotLogBytes;

    public int WalChunkSizeMiB { get; init; } = new GfsRaftOptions().WalChunkSizeMiB;

    /// <summary>When set, the replicas log to the console at this level.</summary>
    public LogLevel? LogLevel { get; init; }

    public bool Running(int id) => apps[id] is not null;

    public MasterReplica Replica(int id) => apps[id]?.Services.GetRequiredService<MasterReplica>() ?? throw new InvalidOperationException($"replica {id} is stopped");

    public async Task StartAsync(int id)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (LogLevel is { } level)
        {
            builder.Logging.AddSimpleConsole(o => o.TimestampFormat = $"HH:mm:ss.fff '[m{id}]' ");
            builder.Logging.SetMinimumLevel(level);
            builder.Logging.AddFilter("Microsoft", Microsoft.Extensions.Logging.LogLevel.Warning);
            builder.Logging.AddFilter("System", Microsoft.Extensions.Logging.LogLevel.Warning);
        }

        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, ports[id], l => l.Protocols = HttpProtocols.Http2);
            k.Limits.Http2.MaxStreamsPerConnection = 1000;
        });
        builder.AddGfsMaster(new GfsRaftOptions
        {
            MemberId = id,
            Members = [.. ports.Select(p => new Uri($"http://127.0.0.1:{p}/"))],
            ClientUrl = new Uri($"http://127.0.0.1:{ports[id]}/"),
            DataDirectory = Path.Combine(root, $"m{id}"),
            WalChunkSizeMiB = WalChunkSizeMiB,
            SnapshotLogBytes = SnapshotLogBytes,
        });
        var app = builder.Build();
        await app.RestoreGfsRaftStateAsync();
        app.UseGfsRaft();
        await app.StartAsync();
        apps[id] = app;
    }

    public Task StartAllAsync() => Task.WhenAll(Enumerable.Range(0, 3).Select(StartAsync));

    public async Task StopAsync(int id)
    {
        if (apps[id] is { } app)
        {
            apps[id] = null;
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <summary>
    /// The closest this harness comes to a crash: the replica's host is disposed without being
    /// stopped, so no hosted service's stop runs (no graceful step-down, no orderly shutdown of Raft);
    /// its connections drop and calls in flight on it end as they may.
    /// </summary>
    public async Task CrashAsync(int id)
    {
        if (apps[id] is { } app)
        {
            apps[id] = null;
            await app.DisposeAsync();
        }
    }

    /// <summary>The replica, or null while it is stopped.</summary>
    public MasterReplica? TryReplica(int id) => apps[id]?.Services.GetRequiredService<MasterReplica>();

    /// <summary>Index of the replica that leads, waiting up to <see cref="Patience"/> for one.</summary>
    public async Task<int> LeaderAsync(CancellationToken cancellationToken = default)
    {
        var leader = -1;
        await Retry.Until("a master replica leads", () =>
        {
            cancellationToken.ThrowIfCancellationRequested();
            leader = Enumerable.Range(0, 3).FirstOrDefault(i => Running(i) && Replica(i).Raft.IsLeader, -1);
            return leader >= 0;
        }, Patience, TimeSpan.FromMilliseconds(10));
        return leader;
    }

    /// <summary>What a client does: send to the leader, retry the same request id on NotLeader until answered.</summary>
    public async Task<CommandResult> ExecuteAsync(long clientId, long requestId, MasterOp op, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var leader = await LeaderAsync(cancellationToken);
            try
            {
                return await Replica(leader).ExecuteAsync(clientId, requestId, op, cancellationToken);
            }
            catch (NotLeaderException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(10, cancellationToken);
            }
        }
    }

    public Task AllAppliedAsync(long index)
        => Retry.Until($"every running replica applied index {index}", () => Enumerable.Range(0, 3).Where(Running).All(i => Replica(i).Master.AppliedIndex >= index), Patience);

    public async ValueTask DisposeAsync()
    {
        for (var i = 0; i < 3; i++)
        {
            await StopAsync(i);
        }

        temp?.Dispose();
    }
}
