using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gfs.Consensus.Tests;

/// <summary>One Raft member in this process: Kestrel on a loopback port, cleartext HTTP/2, restartable on the same data.</summary>
internal sealed class RaftTestNode : IAsyncDisposable
{
    private WebApplication? app;

    public RaftTestNode(int id, IReadOnlyList<int> ports, string dataDirectory, long snapshotLogBytes)
    {
        Id = id;
        Ports = ports;
        DataDirectory = dataDirectory;
        SnapshotLogBytes = snapshotLogBytes;
    }

    public int Id { get; }

    public IReadOnlyList<int> Ports { get; }

    public string DataDirectory { get; }

    public long SnapshotLogBytes { get; }

    public ListState State { get; private set; } = new();

    public RaftNode Raft => app?.Services.GetRequiredService<RaftNode>() ?? throw new InvalidOperationException($"node {Id} is stopped");

    public bool Running => app is not null;

    /// <summary>How the WAL writes its pages back (see <see cref="GfsRaftOptions.WalDirectWrites"/>); read at each start.</summary>
    public bool WalDirectWrites { get; set; } = true;

    public static Uri RaftUrl(int port) => new($"http://127.0.0.1:{port}/");

    public async Task StartAsync()
    {
        State = new ListState();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (Environment.GetEnvironmentVariable("GFS_TEST_LOG") is { Length: > 0 } level)
        {
            // GFS_TEST_LOG=Debug prints the members' logs (DotNext's included) while debugging a test.
            builder.Logging.AddSimpleConsole(o => o.TimestampFormat = "HH:mm:ss.fff ");
            builder.Logging.SetMinimumLevel(Enum.Parse<LogLevel>(level));
        }
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, Ports[Id], l => l.Protocols = HttpProtocols.Http2));
        var options = new GfsRaftOptions
        {
            MemberId = Id,
            Members = [.. Ports.Select(RaftUrl)],
            ClientUrl = new Uri($"http://client-{Id}.test:7000/"),
            DataDirectory = DataDirectory,
            WalChunkSizeMiB = 1,
            SnapshotLogBytes = SnapshotLogBytes,
            WalDirectWrites = WalDirectWrites,
        };
        var state = State;
        builder.AddGfsRaft(options, _ => state);
        var built = builder.Build();
        await built.RestoreGfsRaftStateAsync();
        built.UseGfsRaft();
        await built.StartAsync();
        app = built;
    }

    public async Task StopAsync()
    {
        if (app is { } running)
        {
            app = null;
            await running.StopAsync();
            await running.DisposeAsync();
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}
