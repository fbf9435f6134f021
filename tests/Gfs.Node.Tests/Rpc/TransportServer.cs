using System.Collections.Concurrent;
using System.Security.Cryptography;
using Gfs.Client.Protocol;
using Gfs.Client.Transport;
using Gfs.Node.Rpc;
using Gfs.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Gfs.Node.Tests.Rpc;

/// <summary>
/// A real Kestrel server on a loopback port, hosted in the test process through the same
/// <see cref="RpcHosting"/> code the gfs executable uses, with RPCs that exercise every transport path.
/// </summary>
public sealed class TransportServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly TempDirectory directory;

    private TransportServer(WebApplication app, TempDirectory directory, Uri url, RpcClient client)
    {
        this.app = app;
        this.directory = directory;
        Url = url;
        Client = client;
    }

    public Uri Url { get; }

    public RpcClient Client { get; }

    /// <summary>Tags of slow calls whose handler saw its cancellation token fire.</summary>
    public ConcurrentDictionary<string, TaskCompletionSource> CancelledCalls { get; } = new();

    public static async Task<TransportServer> StartAsync(bool tls, int maxMessageBytes = 16 * 1024 * 1024)
    {
        var directory = new TempDirectory("gfs-transport");
        var certificates = tls ? TestCertificates.Create(directory.Path) : null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.AddGfsRpc(o =>
        {
            o.Urls = [tls ? "https://127.0.0.1:0" : "http://127.0.0.1:0"];
            o.CertificatePath = certificates?.CertificatePath;
            o.CertificateKeyPath = certificates?.KeyPath;
            o.MaxMessageBytes = maxMessageBytes;
            o.MaxUploadBytes = 128L * 1024 * 1024;
        });
        var app = builder.Build();
        TransportServer? server = null;
        Map(app, directory, () => server!);
        app.UseGfsRpc();
        await app.StartAsync();
        var url = app.BoundUrls()[0];
        if (tls)
        {
            url = new UriBuilder(url) { Host = "localhost" }.Uri;
        }

        var client = new RpcClient(new RpcClientOptions { TrustedRoots = certificates is null ? [] : [certificates.Ca] });
        server = new TransportServer(app, directory, url, client);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
        directory.Dispose();
    }

    private static void Map(WebApplication app, TempDirectory directory, Func<TransportServer> self)
    {
        app.MapRpc<EchoMessage, EchoMessage>("test/Echo", (request, _) => ValueTask.FromResult(request));
        app.MapRpc<EchoMessage, EchoMessage>("test/Fail", (request, _) => throw new GfsException(ErrorCode.NotFound, $"no such thing: {request.Text}"));
        app.MapRpc<EchoMessage, EchoMessage>("test/NotLeader", (_, _) => throw new GfsException(ErrorCode.NotLeader, "not the leader", "https://leader.example:9000"));
        app.MapRpc<EchoMessage, EchoMessage>("test/NotLeaderSelf", (_, _) => throw new GfsException(ErrorCode.NotLeader, "not the leader; the leader is me (lost its quorum)", self().Url.ToString()));
        app.MapRpc<EchoMessage, EchoMessage>("test/Crash", (_, _) => throw new InvalidOperationException("secret internal detail"));
        app.MapRpc<SlowRequest, EchoMessage>("test/Slow", async (request, context) =>
        {
            try
            {
                await Task.Delay(request.Milliseconds, context.CancellationToken);
            }
            catch (OperationCanceledException)
            {
                self().CancelledCalls.GetOrAdd(request.Tag, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                throw;
            }

            return new EchoMessage { Text = "done" };
        });

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
