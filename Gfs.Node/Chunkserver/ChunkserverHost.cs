using Gfs.Client.Transport;
using Gfs.Node.Rpc;
using Gfs.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gfs.Node.Chunkserver;

/// <summary>
/// One running chunkserver: its chunk store (under <c>DIR/chunks</c>), its identity, its RPCs on
/// Kestrel and its background work. <c>gfs chunkserver</c> runs one; tests host several in-process.
/// </summary>
internal sealed class ChunkserverHost : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly IChunkStore store;
    private readonly RpcClient rpc;
    private readonly ILogger logger;
    private int disposed;

    private ChunkserverHost(WebApplication app, IChunkStore store, RpcClient rpc, ChunkserverService service, ChunkserverWorker worker, ILogger logger)
    {
        this.app = app;
        this.logger = logger;
        this.store = store;
        this.rpc = rpc;
        Service = service;
        Worker = worker;
    }

    public ChunkserverService Service { get; }

    public ChunkserverWorker Worker { get; }

    public string ServerId => Service.ServerId;

    /// <summary>The URL other nodes use, with the real port.</summary>
    public string Url => Service.Url;

    public WebApplication App => app;

    /// <summary>Opens the store, starts listening and returns once the RPCs are served (before any master answered).</summary>
    public static async Task<ChunkserverHost> StartAsync(
        ChunkserverOptions options,
        string listen,
        string? certificate,
        string? key,
        Action<WebApplicationBuilder> configureLogging,
        TimeProvider? time = null,
        RpcClientOptions? clientOptions = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configureLogging);
        options.Validate();
        time ??= TimeProvider.System;
        var directory = Path.GetFullPath(options.DataDirectory);
        var serverId = ServerIdentity.LoadOrCreate(directory);

        var builder = WebApplication.CreateSlimBuilder();
        configureLogging(builder);
        builder.AddGfsRpc(o =>
        {
            o.Urls = [listen];
            o.CertificatePath = certificate;
            o.CertificateKeyPath = key;
        });

        var storeOptions = new ChunkStoreOptions { Directory = Path.Combine(directory, "chunks"), MaxOpenFiles = options.MaxOpenFiles };
        IChunkStore store = await ChunkStore.OpenAsync(storeOptions, time, cancellationToken).ConfigureAwait(false);
        var rpc = new RpcClient(clientOptions ?? new RpcClientOptions
        {
            // Calls to masters and other chunkservers present this server's certificate when it has one (mutual TLS).
            ClientCertificate = certificate is null ? null : RpcHosting.LoadCertificate(certificate, key),
        });

        WebApplication? app = null;
        try
        {
            app = builder.Build();
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Gfs.Node.Chunkserver");
            var service = new ChunkserverService(options, store, storeOptions.ChunkSize, serverId, rpc, time, logger);
            service.Map(app);
            app.UseGfsRpc();
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            service.Url = Advertised(new Uri(listen), app.BoundUrls()[0]);
            app.LogRpcConfiguration();
            store.StartScrubber();
            var worker = new ChunkserverWorker(service, options, rpc, logger);
            ChunkserverLog.Started(logger, serverId, store.GetStats().Chunks, directory, string.Join(", ", options.Masters), options.Rack, options.BufferBytes >> 20, options.BufferTtl.TotalSeconds, options.HeartbeatInterval.TotalMilliseconds);
            return new ChunkserverHost(app, store, rpc, service, worker, logger);
        }
        catch
        {
            if (app is not null)
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }

            rpc.Dispose();
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts the heartbeats, order execution and buffer sweeping.</summary>
    public void StartBackground() => Worker.Start();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        await Worker.DisposeAsync().ConfigureAwait(false);
        await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        Service.Buffer.Clear();
        await store.StopScrubberAsync().ConfigureAwait(false);
        await store.DisposeAsync().ConfigureAwait(false);
        rpc.Dispose();
        ChunkserverLog.Stopped(logger, ServerId);
        await app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The URL to advertise: the listen URL with the bound port, or the bound address when the
    /// listen host is a wildcard (a certificate names the host it was listened on, not 127.0.0.1).
    /// </summary>
    internal static string Advertised(Uri listen, Uri bound)
    {
        var wildcard = listen.Host is "0.0.0.0" or "*" or "+" or "[::]" or "::";
        var builder = new UriBuilder(wildcard ? bound : listen) { Port = bound.Port, Path = "/" };
        return builder.Uri.ToString();
    }
}
