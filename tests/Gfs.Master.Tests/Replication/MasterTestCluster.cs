using System.Net;
using Gfs.Consensus;
using Gfs.Master.Commands;
using Gfs.Master.Replication;
using Gfs.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gfs.Master.Tests.Replication;

/// <summary>Three master replicas in this process over real HTTP/2 on loopback.</summary>
internal sealed class MasterTestCluster : IAsyncDisposable
{
    private readonly TempDirectory temp = new("gfs-master");
    private readonly int[] ports = [.. Enumerable.Range(0, 3).Select(_ => FreePort.Next())];
    private readonly WebApplication?[] apps = new WebApplication?[3];

    public static TimeSpan Patience => TimeSpan.FromSeconds(30);

    public long SnapshotLogBytes { get; init; } = 64L << 20;

    public bool Running(int id) => apps[id] is not null;

    public MasterReplica Replica(int id) => apps[id]?.Services.GetRequiredService<MasterReplica>() ?? throw new InvalidOperationException($"replica {id} is stopped");

    public async Task StartAsync(int id)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, ports[id], l => l.Protocols = HttpProtocols.Http2));
        builder.AddGfsMaster(new GfsRaftOptions
        {
            MemberId = id,
            Members = [.. ports.Select(p => new Uri($"http://127.0.0.1:{p}/"))],
            ClientUrl = new Uri($"http://127.0.0.1:{ports[id]}/"),
            DataDirectory = temp.Combine($"m{id}"),
            WalChunkSizeMiB = 1,
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

    public async Task<int> LeaderAsync()
    {
        var leader = -1;
        await Retry.Until("a master replica leads", () =>
        {
            leader = Enumerable.Range(0, 3).FirstOrDefault(i => Running(i) && Replica(i).Raft.IsLeader, -1);
            return leader >= 0;
        }, Patience);
        return leader;
    }

    /// <summary>What a client does: send to the leader, retry the same request id on NotLeader until answered.</summary>
    public async Task<CommandResult> ExecuteAsync(long clientId, long requestId, MasterOp op)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var leader = await LeaderAsync();
            try
            {
                return await Replica(leader).ExecuteAsync(clientId, requestId, op);
            }
            catch (NotLeaderException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
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

        temp.Dispose();
    }
}
