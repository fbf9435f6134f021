using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Http;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using DotNext.Net.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gfs.Consensus;

/// <summary>
/// Hosts a Raft member on the application's Kestrel, next to its own routes:
/// <code>
/// builder.AddGfsRaft(options, sp => myState);   // services: WAL, state machine, cluster, RaftNode
/// var app = builder.Build();
/// await app.RestoreGfsRaftStateAsync();        // load the latest snapshot before the node starts
/// app.UseGfsRaft();                            // first in the pipeline: the Raft protocol endpoint
/// // ... map the application's routes; resolve RaftNode from app.Services
/// await app.RunAsync();
/// </code>
/// The Kestrel endpoint of <see cref="GfsRaftOptions.LocalMember"/> must speak HTTP/2 (cleartext needs
/// <c>Protocols = HttpProtocols.Http2</c>); peers are called with HTTP/2 only (RequestVersionExact).
/// </summary>
public static class RaftHostingExtensions
{
    /// <summary>Name of the HTTP client pipeline used for Raft RPCs.</summary>
    public const string HttpClientName = "gfs-raft";

    public static WebApplicationBuilder AddGfsRaft(this WebApplicationBuilder builder, GfsRaftOptions options, Func<IServiceProvider, IReplicatedState> stateFactory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stateFactory);
        options.Validate();
        Directory.CreateDirectory(options.WalDirectory);
        Directory.CreateDirectory(options.SnapshotDirectory);

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(stateFactory);
        services.AddSingleton<ReplicatedStateMachine>();
        services.AddSingleton<IStateMachine>(static sp => sp.GetRequiredService<ReplicatedStateMachine>());
        services.UsePersistentLog(new WriteAheadLog.Options
        {
            Location = options.WalDirectory,
            ChunkSize = options.WalChunkSizeMiB << 20,
            HashAlgorithm = WriteAheadLog.IntegrityHashAlgorithm.XxHash3,
            MemoryManagement = options.WalDirectWrites ? WriteAheadLog.MemoryManagementStrategy.PrivateMemory : WriteAheadLog.MemoryManagementStrategy.SharedMemory,
            NoBuffering = options.WalDirectWrites,
        });
        services.UseInMemoryConfigurationStorage(members =>
        {
            foreach (var member in options.Members)
            {
                members.Add(new UriEndPoint(member));
            }
        });
        services.AddHttpClient(HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                ConnectTimeout = options.VoteTimeout,
                EnableMultipleHttp2Connections = true,
                InitialHttp2StreamWindowSize = 4 << 20,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,

                // A paused peer accepts connections and never answers; without pings a replication
                // round waiting for it would last the whole RpcTimeout. 1 s is the smallest allowed.
                KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
                KeepAlivePingDelay = TimeSpan.FromSeconds(1),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(1),
            })
            .AddHttpMessageHandler(() => new RaftRpcTimeoutHandler(options.VoteTimeout))
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan);
        services.AddSingleton<RaftNode>();

        builder.JoinCluster((config, _, _) =>
        {
            config.PublicEndPoint = options.LocalMember;
            config.ColdStart = false; // static membership: every member is in the list from the start
            config.LowerElectionTimeout = options.LowerElectionTimeoutMs;
            config.UpperElectionTimeout = options.UpperElectionTimeoutMs;
            config.RpcTimeout = options.RpcTimeout;
            config.RequestTimeout = options.RpcTimeout + TimeSpan.FromSeconds(5);
            config.HeartbeatThreshold = options.HeartbeatThreshold;
            config.IsLeaderLeaseEnabled = options.LeaderLease;
            config.ProtocolVersion = HttpProtocolVersion.Http2;
            config.ProtocolVersionPolicy = HttpVersionPolicy.RequestVersionExact;
            config.ClientHandlerName = HttpClientName;
            if (options.ClientUrl is { } clientUrl)
            {
                config.Metadata[GfsRaftOptions.ClientUrlMetadataKey] = clientUrl.ToString();
            }
        });
        return builder;
    }

    /// <summary>Loads the latest snapshot into the state; call after Build and before the app starts.</summary>
    public static async Task RestoreGfsRaftStateAsync(this WebApplication app, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(app);
        var options = app.Services.GetRequiredService<GfsRaftOptions>();
        Log.Configuration(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Gfs.Consensus"), options);
        await app.Services.GetRequiredService<ReplicatedStateMachine>().RestoreAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Adds the Raft protocol endpoint; call it first in the pipeline. Raft requests have no body-size
    /// limit: Kestrel's default (30 MB) would refuse every InstallSnapshot above it, and a lagging
    /// follower would never catch up.
    /// </summary>
    public static WebApplication UseGfsRaft(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var protocolPath = ProtocolPath(app.Services.GetRequiredService<GfsRaftOptions>().LocalMember);
        app.Use((context, next) =>
        {
            if (context.Request.Path.StartsWithSegments(protocolPath)
                && context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = null;
            }

            return next(context);
        });
        app.UseConsensusProtocolHandler();
        return app;
    }

    /// <summary>The path DotNext serves Raft on: the member URL's path, or its default.</summary>
    internal static PathString ProtocolPath(Uri member)
        => member.GetComponents(UriComponents.Path, UriFormat.Unescaped) is { Length: > 0 } path
            ? new PathString("/" + path)
            : new PathString("/cluster-consensus/raft");
}
