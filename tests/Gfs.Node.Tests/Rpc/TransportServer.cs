using System.Collections.Concurrent;
using System.Security.Cryptography;
using Gfs.Client.Protocol;
using Gfs.Client.Transport;
using Gfs.Node.Rpc;
using Gfs.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace Gfs.Node.Tests.Rpc;

/// <summary>
/// A real Kestrel server on a loopback port, hosted in the test process through the same
/// <see cref="RpcHosting"/> code the gfs executable uses, with RPCs that exercise every transport path.
/// </summary>
public sealed class TransportServer : IAsyncDisposable
{
    private readonly TempDirectory directory;
    private readonly TestCertificates? certificates;
    private readonly int maxMessageBytes;
    private readonly Action<RpcServerOptions>? configure;
    private readonly TimeSpan? keepAliveTimeout;
    private WebApplication? app;
    private int closedConnections;

    private TransportServer(TempDirectory directory, TestCertificates? certificates, int maxMessageBytes, Action<RpcServerOptions>? configure, TimeSpan? keepAliveTimeout)
    {
        this.directory = directory;
        this.certificates = certificates;
        this.maxMessageBytes = maxMessageBytes;
        this.configure = configure;
        this.keepAliveTimeout = keepAliveTimeout;
        Client = new RpcClient(new RpcClientOptions { TrustedRoots = certificates is null ? [] : [certificates.Ca] });
    }

    public Uri Url { get; private set; } = null!;

    public RpcClient Client { get; }

    /// <summary>Tags of slow calls whose handler saw its cancellation token fire.</summary>
    public ConcurrentDictionary<string, TaskCompletionSource> CancelledCalls { get; } = new();

    /// <summary>Connections the server has closed (or seen closed) so far.</summary>
    public int ClosedConnections => Volatile.Read(ref closedConnections);

    /// <param name="tls">https with a test CA, or h2c.</param>
    /// <param name="maxMessageBytes">RpcServerOptions.MaxMessageBytes.</param>
    /// <param name="configure">Further server options (frame size, windows).</param>
    /// <param name="keepAliveTimeout">Kestrel closes connections idle this long.</param>
    public static async Task<TransportServer> StartAsync(bool tls, int maxMessageBytes = 16 * 1024 * 1024, Action<RpcServerOptions>? configure = null, TimeSpan? keepAliveTimeout = null)
    {
        var directory = new TempDirectory("gfs-transport");
        var certificates = tls ? TestCertificates.Create(directory.Path) : null;
        var server = new TransportServer(directory, certificates, maxMessageBytes, configure, keepAliveTimeout);
        await server.StartAppAsync(0);
        return server;
    }

    /// <summary>Stops the server; <see cref="RestartAsync"/> brings it back on the same port.</summary>
    public async Task StopAsync()
    {
        if (app is not null)
        {
            await app.StopAsync();
            await app.DisposeAsync();
            app = null;
        }
    }

    public Task RestartAsync() => StartAppAsync(Url.Port);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await StopAsync();
        directory.Dispose();
    }

    private async Task StartAppAsync(int port)
    {
        var tls = certificates is not null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();

        // Registered before AddGfsRpc so that the defaults apply to the endpoints it creates.
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ConfigureEndpointDefaults(listen => listen.Use(next => async connection =>
            {
                try
                {
                    await next(connection);
                }
                finally
                {
                    Interlocked.Increment(ref closedConnections);
                }
            }));
            if (keepAliveTimeout is { } idle)
            {
                kestrel.Limits.KeepAliveTimeout = idle;
            }
        });
        builder.AddGfsRpc(o =>
        {
            o.Urls = [tls ? $"https://127.0.0.1:{port}" : $"http://127.0.0.1:{port}"];
            o.CertificatePath = certificates?.CertificatePath;
            o.CertificateKeyPath = certificates?.KeyPath;
            o.MaxMessageBytes = maxMessageBytes;
            o.MaxUploadBytes = 128L * 1024 * 1024;
            configure?.Invoke(o);
        });
        var started = builder.Build();
        Map(started, directory, this);
        started.UseGfsRpc();
        await started.StartAsync();
        app = started;
        var url = started.BoundUrls()[0];
        Url = tls ? new UriBuilder(url) { Host = "localhost" }.Uri : url;
    }

    private static void Map(WebApplication app, TempDirectory directory, TransportServer server)
    {
        app.MapRpc<EchoMessage, EchoMessage>("test/Echo", (request, _) => ValueTask.FromResult(request));
        app.MapRpc<EchoMessage, EchoMessage>("test/Fail", (request, _) => throw new GfsException(ErrorCode.NotFound, $"no such thing: {request.Text}"));
        app.MapRpc<EchoMessage, EchoMessage>("test/NotLeader", (_, _) => throw new GfsException(ErrorCode.NotLeader, "not the leader", "https://leader.example:9000"));
        app.MapRpc<EchoMessage, EchoMessage>("test/NotLeaderSelf", (_, _) => throw new GfsException(ErrorCode.NotLeader, "not the leader; the leader is me (lost its quorum)", server.Url.ToString()));
        app.MapRpc<EchoMessage, EchoMessage>("test/Crash", (_, _) => throw new InvalidOperationException("secret internal detail"));
        app.MapRpc<SlowRequest, EchoMessage>("test/Slow", async (request, context) =>
        {
            try
            {
                await Task.Delay(request.Milliseconds, context.CancellationToken);
            }
            catch (OperationCanceledException)
            {
                server.CancelledCalls.GetOrAdd(request.Tag, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                throw;
            }

            return new EchoMessage { Text = "done" };
        });

        // Reads nothing of the upload and waits: for deadlines and cancellation.
        app.MapUploadRpc<SlowRequest, SinkReply>("test/SlowSink", async (request, _, context) =>
        {
            try
            {
                await Task.Delay(request.Milliseconds, context.CancellationToken);
            }
            catch (OperationCanceledException)
            {
                server.CancelledCalls.GetOrAdd(request.Tag, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                throw;
            }

            return new SinkReply();
        });

        // Sends 1 MiB of a 64 MiB download, then waits.
        app.MapDownloadRpc<SlowRequest, SourceHeader>("test/SlowSource", (request, _) =>
            ValueTask.FromResult(new RpcDownloadReply<SourceHeader>(new SourceHeader { Id = request.Tag }, 64L << 20, async (writer, ct) =>
            {
                await writer.WriteAsync(new byte[1 << 20], ct);
                try
                {
                    await Task.Delay(request.Milliseconds, ct);
                }
                catch (OperationCanceledException)
                {
                    server.CancelledCalls.GetOrAdd(request.Tag, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                    throw;
                }
            })));

        app.MapUploadRpc<EchoMessage, SinkReply>("test/Sink", async (header, upload, context) =>
        {
            var id = Guid.NewGuid().ToString("N");
            var largest = 0;
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var file = new FileStream(Path.Combine(directory.Path, id), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
            await using (file)
            {
                await upload.ConsumeAsync(
                    async (segment, ct) =>
                    {
                        foreach (var memory in segment)
                        {
                            largest = Math.Max(largest, memory.Length);
                            hash.AppendData(memory.Span);
                            await file.WriteAsync(memory, ct);
                        }
                    },
                    context.CancellationToken);
            }

            return new SinkReply { Length = upload.Length, Sha256 = hash.GetHashAndReset(), Id = id, LargestSegment = largest };
        });

        app.MapDownloadRpc<SourceRequest, SourceHeader>("test/Source", (request, _) =>
        {
            var path = request.Id.Length == 0 ? null : Path.Combine(directory.Path, Path.GetFileName(request.Id));
            if (path is not null && !File.Exists(path))
            {
                throw new GfsException(ErrorCode.NotFound, $"no stored upload {request.Id}");
            }

            var length = path is null ? request.Length : new FileInfo(path).Length;
            return ValueTask.FromResult(new RpcDownloadReply<SourceHeader>(new SourceHeader { Id = request.Id }, length, async (writer, ct) =>
            {
                Stream source = path is null ? new PatternStream(length) : new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous);
                await using (source)
                {
                    long sent = 0;
                    while (true)
                    {
                        var memory = writer.GetMemory(256 * 1024);
                        var n = await source.ReadAsync(memory, ct);
                        if (n == 0)
                        {
                            break;
                        }

                        if (request.FailAfter >= 0 && sent + n > request.FailAfter)
                        {
                            throw new GfsException(ErrorCode.ChecksumMismatch, $"block at {request.FailAfter} failed verification");
                        }

                        writer.Advance(n);
                        sent += n;
                        await writer.FlushAsync(ct);
                    }
                }
            }));
        });
    }
}
