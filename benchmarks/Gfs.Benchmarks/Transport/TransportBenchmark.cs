using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Gfs.Client.Protocol;
using Gfs.Client.Transport;
using Gfs.Node.Rpc;
using MessagePack;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Gfs.Benchmarks.Transport;

/// <summary>
/// Streams 64 MiB over loopback through the RPC transport (upload and download; HTTP/2 over TLS and
/// h2c) and, in the same run, through a plain TCP socket and a plain TLS socket, and prints the
/// medians and the ratios. The HTTP/2 cases run twice: through <see cref="RpcClient"/> (Gfs's own
/// data client) and through .NET's HttpClient with the settings RpcClient used for bulk data before.
/// </summary>
public sealed class TransportBenchmark : IBenchmarkSuite
{
    private const int Size = 64 * 1024 * 1024;

    public string Name => "transport";

    public string Description => "64 MiB over loopback: HTTP/2 (TLS, h2c) vs raw TCP and raw TLS sockets. Options: --runs N (default 9)";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var runs = args.Length >= 2 && args[0] == "--runs" ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 9;
        var payload = new byte[Size];
        new Random(42).NextBytes(payload);
        using var certificate = CreateCertificate();
        var certificateDirectory = Directory.CreateTempSubdirectory("gfs-bench-");
        var certificatePath = Path.Combine(certificateDirectory.FullName, "server.pfx");
        await File.WriteAllBytesAsync(certificatePath, certificate.Export(X509ContentType.Pkcs12), cancellationToken);

        await using var h2c = await RpcServer.StartAsync(null, payload);
        await using var h2 = await RpcServer.StartAsync(certificatePath, payload);
        using var plainClient = new RpcClient(new RpcClientOptions());
        using var tlsClient = new RpcClient(new RpcClientOptions { TrustedRoots = [X509CertificateLoader.LoadCertificate(certificate.RawData)] });
        using var http = CreateHttpClient();

        var cases = new List<(string Name, Func<Task<TimeSpan>> Run)>
        {
            ("raw TCP socket, send", () => RawSocketAsync(payload, tls: null, download: false)),
            ("raw TCP socket, receive", () => RawSocketAsync(payload, tls: null, download: true)),
            ("raw TLS socket, send", () => RawSocketAsync(payload, certificate, download: false)),
            ("raw TLS socket, receive", () => RawSocketAsync(payload, certificate, download: true)),
            ("HTTP/2 h2c upload", () => UploadAsync(plainClient, h2c.Url, payload)),
            ("HTTP/2 h2c download", () => DownloadAsync(plainClient, h2c.Url)),
            ("HTTP/2 TLS upload", () => UploadAsync(tlsClient, h2.Url, payload)),
            ("HTTP/2 TLS download", () => DownloadAsync(tlsClient, h2.Url)),
            ("HTTP/2 HttpClient h2c upload", () => HttpClientUploadAsync(http, h2c.Url, payload)),
            ("HTTP/2 HttpClient h2c download", () => HttpClientDownloadAsync(http, h2c.Url)),
            ("HTTP/2 HttpClient TLS upload", () => HttpClientUploadAsync(http, h2.Url, payload)),
            ("HTTP/2 HttpClient TLS download", () => HttpClientDownloadAsync(http, h2.Url)),
        };

        var results = cases.ToDictionary(c => c.Name, _ => new List<double>());
        var cpu = cases.ToDictionary(c => c.Name, _ => new List<double>());
        for (var warmup = 0; warmup < 2; warmup++)
        {
            foreach (var (_, run) in cases)
            {
                await run();
            }
        }

        // Interleave the cases so that machine noise hits them alike.
        for (var i = 0; i < runs; i++)
        {
            foreach (var (name, run) in cases)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var before = Environment.CpuUsage.TotalTime;
                results[name].Add(Stats.MBps(Size, await run()));
                cpu[name].Add((Environment.CpuUsage.TotalTime - before).TotalSeconds * (1L << 30) / Size);
            }
        }

        var medians = results.ToDictionary(r => r.Key, r => Stats.Median(r.Value));
        Console.WriteLine($"64 MiB over loopback, {runs} runs each after 2 warm-ups; median MB/s (min–max)");
        Console.WriteLine($"{"case",-32} {"median",8} {"min",8} {"max",8} {"CPU s/GiB",10}  ratio to raw");
        foreach (var (name, values) in results)
        {
            Console.WriteLine($"{name,-32} {medians[name],8:0} {values.Min(),8:0} {values.Max(),8:0} {Stats.Median(cpu[name]),10:0.00}  {Ratio(name, medians)}");
        }

        certificateDirectory.Delete(recursive: true);
        return 0;
    }

    /// <summary>An HTTP/2 case against the raw socket moving bytes the same way (upload = send, download = receive).</summary>
    private static string Ratio(string name, Dictionary<string, double> medians)
    {
        if (!name.StartsWith("HTTP/2", StringComparison.Ordinal))
        {
            return "";
        }

        var direction = name.EndsWith("upload", StringComparison.Ordinal) ? "send" : "receive";
        var ratio = $"{medians[name] / medians[$"raw TCP socket, {direction}"]:P0} of raw TCP";
        return name.Contains("TLS", StringComparison.Ordinal) ? $"{ratio}, {medians[name] / medians[$"raw TLS socket, {direction}"]:P0} of raw TLS" : ratio;
    }

    private static async Task<TimeSpan> UploadAsync(RpcClient client, Uri url, byte[] payload)
    {
        var watch = Stopwatch.StartNew();
        var reply = await client.UploadAsync<BenchHeader, BenchHeader>(url, "bench/Sink", new BenchHeader { Length = payload.Length }, payload.Length, async (stream, ct) =>
        {
            for (var offset = 0; offset < payload.Length; offset += 1024 * 1024)
            {
                await stream.WriteAsync(payload.AsMemory(offset, 1024 * 1024), ct);
            }
        });
        watch.Stop();
        if (reply.Length != payload.Length)
        {
            throw new InvalidOperationException($"server received {reply.Length} bytes");
        }

        return watch.Elapsed;
    }

    /// <summary>The hot path of chunk reads and pulls: ReadAsync straight into the caller's buffer.</summary>
    private static async Task<TimeSpan> DownloadAsync(RpcClient client, Uri url)
    {
        var buffer = new byte[1024 * 1024];
        var watch = Stopwatch.StartNew();
        await using var download = await client.DownloadAsync<BenchHeader, BenchHeader>(url, "bench/Source", new BenchHeader { Length = Size });
        long received = 0;
        while (download.Remaining > 0)
        {
            received += await download.ReadAsync(buffer);
        }

        watch.Stop();
        if (received != Size)
        {
            throw new InvalidOperationException($"received {received} bytes");
        }

        return watch.Elapsed;
    }

    /// <summary>The HttpClient that RpcClient used for uploads and downloads before it had its own data client.</summary>
    private static HttpClient CreateHttpClient()
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            InitialHttp2StreamWindowSize = 16 * 1024 * 1024,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                ApplicationProtocols = [SslApplicationProtocol.Http2],
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            },
        };
        return new HttpClient(handler)
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    private static async Task<TimeSpan> HttpClientUploadAsync(HttpClient http, Uri url, byte[] payload)
    {
        var watch = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(url, WireFormat.RoutePrefix + "bench/Sink"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new BenchUploadContent(payload),
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var reply = await response.Content.ReadAsByteArrayAsync();
        watch.Stop();
        if (Envelope.ReadReply<BenchHeader>(new ReadOnlySequence<byte>(reply)).Length != payload.Length)
        {
            throw new InvalidOperationException("the server received a different length");
        }

        return watch.Elapsed;
    }

    private static async Task<TimeSpan> HttpClientDownloadAsync(HttpClient http, Uri url)
    {
        var body = new ArrayBufferWriter<byte>();
        MessagePackSerializer.Serialize(body, new BenchHeader { Length = Size }, WireFormat.Options);
        var buffer = new byte[1024 * 1024];
        var watch = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(url, WireFormat.RoutePrefix + "bench/Source"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ReadOnlyMemoryContent(body.WrittenMemory) { Headers = { ContentType = new MediaTypeHeaderValue(WireFormat.ContentType) } },
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        long received = 0;
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
        {
            received += n;
        }

        watch.Stop();
        if (received < Size)
        {
            throw new InvalidOperationException($"received {received} bytes");
        }

        return watch.Elapsed;
    }

    /// <summary>The baseline: one connection, 1 MiB writes and reads, nothing else.</summary>
    private static async Task<TimeSpan> RawSocketAsync(byte[] payload, X509Certificate2? tls, bool download)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serverTask = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            Stream stream = new NetworkStream(socket, ownsSocket: false);
            if (tls is not null)
            {
                var ssl = new SslStream(stream);
                await ssl.AuthenticateAsServerAsync(tls);
                stream = ssl;
            }

            await using (stream)
            {
                if (download)
                {
                    await WriteAllAsync(stream, payload);
                }
                else
                {
                    await ReadAllAsync(stream, payload.Length);
                    await stream.WriteAsync(new byte[1]);
                }
            }
        });

        using var client = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, port);
        Stream clientStream = new NetworkStream(client, ownsSocket: false);
        if (tls is not null)
        {
            var ssl = new SslStream(clientStream, false, (_, _, _, _) => true);
            await ssl.AuthenticateAsClientAsync("localhost");
            clientStream = ssl;
        }

        var watch = Stopwatch.StartNew();
        await using (clientStream)
        {
            if (download)
            {
                await ReadAllAsync(clientStream, payload.Length);
            }
            else
            {
                await WriteAllAsync(clientStream, payload);
                await ReadAllAsync(clientStream, 1);
            }
        }

        watch.Stop();
        await serverTask;
        return watch.Elapsed;
    }

    private static async Task WriteAllAsync(Stream stream, byte[] payload)
    {
        for (var offset = 0; offset < payload.Length; offset += 1024 * 1024)
        {
            await stream.WriteAsync(payload.AsMemory(offset, 1024 * 1024));
        }

        await stream.FlushAsync();
    }

    private static async Task ReadAllAsync(Stream stream, int length)
    {
        var buffer = new byte[1024 * 1024];
        var total = 0;
        while (total < length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(0, Math.Min(buffer.Length, length - total)));
            if (n == 0)
            {
                throw new EndOfStreamException();
            }

            total += n;
        }
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>An upload body as RpcClient's HttpClient path wrote it: the prefix, then 1 MiB writes.</summary>
    private sealed class BenchUploadContent : HttpContent
    {
        private readonly byte[] payload;
        private readonly byte[] prefix;

        public BenchUploadContent(byte[] payload)
        {
            this.payload = payload;
            var buffer = new ArrayBufferWriter<byte>();
            Envelope.WriteUploadPrefix(buffer, new BenchHeader { Length = payload.Length }, payload.Length);
            prefix = buffer.WrittenSpan.ToArray();
            Headers.ContentType = new MediaTypeHeaderValue(WireFormat.ContentType);
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(prefix);
            for (var offset = 0; offset < payload.Length; offset += 1024 * 1024)
            {
                await stream.WriteAsync(payload.AsMemory(offset, 1024 * 1024));
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = prefix.Length + payload.Length;
            return true;
        }
    }

    [MessagePackObject]
    public sealed class BenchHeader
    {
        [Key(0)]
        public long Length { get; set; }
    }

    private sealed class RpcServer : IAsyncDisposable
    {
        private readonly WebApplication app;

        private RpcServer(WebApplication app, Uri url)
        {
            this.app = app;
            Url = url;
        }

        public Uri Url { get; }

        public static async Task<RpcServer> StartAsync(string? certificatePath, byte[] payload)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.AddGfsRpc(o =>
            {
                o.Urls = [certificatePath is null ? "http://127.0.0.1:0" : "https://127.0.0.1:0"];
                o.CertificatePath = certificatePath;
            });
            var app = builder.Build();
            app.MapUploadRpc<BenchHeader, BenchHeader>("bench/Sink", async (_, upload, context) =>
            {
                await upload.ConsumeAsync((_, _) => ValueTask.CompletedTask, context.CancellationToken);
                return new BenchHeader { Length = upload.Length };
            });
            app.MapDownloadRpc<BenchHeader, BenchHeader>("bench/Source", (request, _) =>
                ValueTask.FromResult(new RpcDownloadReply<BenchHeader>(request, request.Length, async (writer, ct) =>
                {
                    for (var offset = 0; offset < request.Length; offset += 1024 * 1024)
                    {
                        await writer.WriteAsync(payload.AsMemory(offset, 1024 * 1024), ct);
                    }
                })));
            app.UseGfsRpc();
            await app.StartAsync();
            var url = app.BoundUrls()[0];
            return new RpcServer(app, certificatePath is null ? url : new UriBuilder(url) { Host = "localhost" }.Uri);
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
