using System.CommandLine;
using Gfs.Client.Transport;
using Gfs.Consensus;
using Gfs.Master.Cluster;
using Gfs.Master.Replication;
using Gfs.Node.Master;
using Gfs.Node.Rpc;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gfs.Node.Cli;

/// <summary><c>gfs master</c>: runs one replica of the Raft-replicated master.</summary>
internal static class MasterCommand
{
    /// <summary>Start of the one line printed on stdout once the replica has joined the cluster.</summary>
    public const string ReadyMarker = "gfs master ready";

    public static Command Create()
    {
        var id = new Option<int>("--id") { Description = "This replica's index in --peers (0-based).", Required = true };
        var peers = new Option<string>("--peers") { Description = "Comma-separated URLs of all master replicas, in the same order on every replica (e.g. http://10.0.0.1:7100,http://10.0.0.2:7100,http://10.0.0.3:7100). Clients and peers reach this replica at its own entry.", Required = true };
        var data = new Option<string>("--data") { Description = "Directory for the replica's log and snapshots.", Required = true };
        var listen = new Option<string?>("--listen") { Description = "URL to listen on, when it differs from this replica's --peers entry (e.g. http://0.0.0.0:7100)." };
        var certificate = new Option<string?>("--cert") { Description = "TLS certificate (PEM or PFX) for https URLs." };
        var key = new Option<string?>("--key") { Description = "PEM private key of --cert." };
        var snapshotMiB = new Option<int>("--snapshot-log-mib") { Description = "Take a snapshot (and compact the log) after this many MiB of log.", DefaultValueFactory = _ => 16 };
        var electionMs = new Option<string>("--election-timeout-ms") { Description = "Election timeout range lower-upper in milliseconds.", DefaultValueFactory = _ => "300-600" };
        var leaseSeconds = new Option<int>("--lease-seconds") { Description = "Length of a chunk lease and of each extension, in seconds.", DefaultValueFactory = _ => 60 };
        var deadAfterSeconds = new Option<int>("--dead-after-seconds") { Description = "A chunkserver without a heartbeat for this many seconds is dead (not placed on, not returned in locations).", DefaultValueFactory = _ => 10 };
        var logLevel = new Option<LogLevel>("--log-level") { Description = "Least severe log level written to stderr.", DefaultValueFactory = _ => LogLevel.Information };

        var command = new Command("master", "Run one replica of the Raft-replicated master (three replicas make a cluster).")
        {
            id, peers, data, listen, certificate, key, snapshotMiB, electionMs, leaseSeconds, deadAfterSeconds, logLevel,
        };
        command.SetAction((parse, ct) => RunAsync(
            new MasterArguments(
                parse.GetValue(id),
                parse.GetRequiredValue(peers),
                parse.GetRequiredValue(data),
                parse.GetValue(listen),
                parse.GetValue(certificate),
                parse.GetValue(key),
                parse.GetValue(snapshotMiB),
                parse.GetRequiredValue(electionMs),
                parse.GetValue(leaseSeconds),
                parse.GetValue(deadAfterSeconds),
                parse.GetValue(logLevel)),
            ct));
        return command;
    }

    private static async Task<int> RunAsync(MasterArguments arguments, CancellationToken cancellationToken)
    {
        GfsRaftOptions raft;
        DataPathOptions dataPath;
        try
        {
            raft = arguments.ToRaftOptions();
            raft.Validate();
            dataPath = arguments.ToDataPathOptions();
            dataPath.Validate();
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"gfs master: {e.Message}");
            return 2;
        }

        var builder = WebApplication.CreateSlimBuilder();
        NodeLogging.Configure(builder, arguments.LogLevel);
        builder.AddGfsRpc(o =>
        {
            o.Urls = [arguments.Listen ?? raft.LocalMember.ToString()];
            o.CertificatePath = arguments.Certificate;
            o.CertificateKeyPath = arguments.Key;
        });
        builder.AddGfsMaster(raft);
        builder.Services.AddSingleton(dataPath);
        builder.Services.AddSingleton(_ => new RpcClient(new RpcClientOptions
        {
            // Grants to chunkservers present this master's certificate when it has one (mutual TLS).
            ClientCertificate = arguments.Certificate is null ? null : RpcHosting.LoadCertificate(arguments.Certificate, arguments.Key),
        }));
        builder.Services.AddSingleton<IMasterLog, ReplicaMasterLog>();
        builder.Services.AddSingleton<ChunkserverRegistry>();
        builder.Services.AddSingleton<IChunkserverChannel, RpcChunkserverChannel>();
        builder.Services.AddSingleton<LeaseManager>();
        builder.Services.AddSingleton<ChunkCoordinator>();
        builder.Services.AddSingleton<MasterRpcService>();
        builder.Services.AddSingleton<MasterDataService>();

        await using var app = builder.Build();
        app.UseGfsRaft();
        app.Services.GetRequiredService<MasterRpcService>().Map(app);
        app.Services.GetRequiredService<MasterDataService>().Map(app);
        app.UseGfsRpc();

        await app.RestoreGfsRaftStateAsync(cancellationToken);
        await app.StartAsync(cancellationToken);
        app.LogRpcConfiguration();

        var node = app.Services.GetRequiredService<RaftNode>();
        var lifetime = app.Lifetime.ApplicationStopping;
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime);
        try
        {
            while (true)
            {
                try
                {
                    var leader = await node.WaitForLeaderAsync(TimeSpan.FromSeconds(5), stopping.Token);
                    Console.WriteLine($"{ReadyMarker}: member {raft.MemberId} at {raft.LocalMember}; leader is member {leader.MemberId} ({leader.RaftUrl})");
                    break;
                }
                catch (TimeoutException)
                {
                    app.Logger.LogInformation("Waiting for the other masters to elect a leader");
                }
            }

            await app.WaitForShutdownAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C or SIGTERM: stop cleanly below.
        }

        await app.StopAsync(CancellationToken.None);
        return 0;
    }

    private sealed record MasterArguments(
        int Id, string Peers, string Data, string? Listen, string? Certificate, string? Key, int SnapshotMiB, string ElectionMs, int LeaseSeconds, int DeadAfterSeconds, LogLevel LogLevel)
    {
        public DataPathOptions ToDataPathOptions()
        {
            if (LeaseSeconds <= 0 || DeadAfterSeconds <= 0)
            {
                throw new ArgumentException("--lease-seconds and --dead-after-seconds must be positive");
            }

            return new DataPathOptions { LeaseLength = TimeSpan.FromSeconds(LeaseSeconds), DeadAfter = TimeSpan.FromSeconds(DeadAfterSeconds) };
        }

        public GfsRaftOptions ToRaftOptions()
        {
            var members = Peers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(p => Uri.TryCreate(p, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
                    ? uri
                    : throw new ArgumentException($"peer '{p}' is not an http:// or https:// URL"))
                .ToList();
            var range = ElectionMs.Split('-');
            if (range.Length != 2 || !int.TryParse(range[0], out var lower) || !int.TryParse(range[1], out var upper))
            {
                throw new ArgumentException($"--election-timeout-ms must look like 300-600, not '{ElectionMs}'");
            }

            if (SnapshotMiB <= 0)
            {
                throw new ArgumentException("--snapshot-log-mib must be positive");
            }

            return new GfsRaftOptions
            {
                MemberId = Id,
                Members = members,
                ClientUrl = Id >= 0 && Id < members.Count ? members[Id] : null,
                DataDirectory = Path.GetFullPath(Data),
                LowerElectionTimeoutMs = lower,
                UpperElectionTimeoutMs = upper,
                SnapshotLogBytes = (long)SnapshotMiB << 20,
            };
        }
    }
}
