using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Gfs.Client.Protocol;
using Gfs.Master.State;
using Gfs.Node.Rpc;
using MessagePack;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Gfs.Benchmarks.Memory;

/// <summary>
/// Memory figures that need the process to themselves (a test run shares its process with other
/// tests, so they cannot be asserted there): the master state's managed heap per one-chunk file,
/// and the growth of this process's peak resident set while an RPC server answers every kind of
/// bad request body, ten rounds of all of them at once. Each is printed with its target.
/// Usage: <c>memory [--files 200000] [--rounds 10]</c>.
/// </summary>
public sealed class MemorySuite : IBenchmarkSuite
{
    private const int MaxMessageBytes = 1024 * 1024;
    private const double HeapTarget = 200;        // bytes per one-chunk file (master.md)
    private const long PeakGrowthTarget = 300_000_000;

    public string Name => "memory";

    public string Description => "master heap per one-chunk file; peak RSS growth under bad RPC bodies";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var files = Option(args, "--files", 200_000);
        var rounds = Option(args, "--rounds", 10);

        var perFile = HeapPerFile(files);
        Console.WriteLine($"heap per one-chunk file at {files:N0} files: {perFile:F1} bytes (target at most {HeapTarget:F0}: {(perFile <= HeapTarget ? "met" : "MISSED")})");

        var (before, peak, requests) = await BadInputPeakAsync(rounds, cancellationToken);
        var growth = peak - before;
        Console.WriteLine($"peak RSS under {requests:N0} bad requests ({rounds} rounds): {before / 1e6:F0} MB before, {peak / 1e6:F0} MB peak, growth {growth / 1e6:F0} MB (target under {PeakGrowthTarget / 1e6:F0} MB: {(growth < PeakGrowthTarget ? "met" : "MISSED")})");
        return perFile <= HeapTarget && growth < PeakGrowthTarget ? 0 : 1;
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static double HeapPerFile(int files)
    {
        const int PerDir = 1000;
        var dirs = Math.Max(1, files / PerDir);
        var before = Heap();
        var state = MasterStateFiller.Fill(dirs, PerDir);
        var after = Heap();
        if (state.FileCount != dirs * PerDir || state.ChunkCount != dirs * PerDir)
        {
            throw new InvalidOperationException($"the filler made {state.FileCount} files and {state.ChunkCount} chunks, not {dirs * PerDir}");
        }

        GC.KeepAlive(state);
        return (after - before) / (double)(dirs * PerDir);
    }

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static async Task<(long Before, long Peak, int Requests)> BadInputPeakAsync(int rounds, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.AddGfsRpc(o =>
        {
            o.Urls = ["http://127.0.0.1:0"];
            o.MaxMessageBytes = MaxMessageBytes;
        });
        await using var app = builder.Build();
        app.MapRpc<Echo, Echo>("bench/Echo", (request, _) => ValueTask.FromResult(request));
        app.MapUploadRpc<Echo, Echo>("bench/Sink", async (header, upload, context) =>
        {
            await upload.ConsumeAsync((_, _) => ValueTask.CompletedTask, context.CancellationToken);
            return header;
        });
        app.MapDownloadRpc<Echo, Echo>("bench/Source", (request, _) =>
            ValueTask.FromResult(new RpcDownloadReply<Echo>(request, 0, (_, _) => ValueTask.CompletedTask)));
        app.UseGfsRpc();
        await app.StartAsync(cancellationToken);
        var url = app.BoundUrls()[0];

        using var http = new HttpClient(new SocketsHttpHandler())
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        var bodies = BadBodies();
        ProcessMemory.ResetPeak();
        var before = ProcessMemory.PeakWorkingSet();
        for (var round = 0; round < rounds; round++)
        {
            var codes = await Task.WhenAll(bodies.Select(b => SendAsync(http, url, b, cancellationToken)));
            for (var i = 0; i < bodies.Count; i++)
            {
                if (codes[i] != bodies[i].Expected)
                {
                    throw new InvalidOperationException($"{bodies[i].Name}: {codes[i]}, expected {bodies[i].Expected}");
                }
            }
        }

        var peak = ProcessMemory.PeakWorkingSet();
        await app.StopAsync(cancellationToken);
        return (before, peak, rounds * bodies.Count);
    }

    private static async Task<ErrorCode> SendAsync(HttpClient http, Uri server, BadBody bad, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(new HttpMethod(bad.Method), new Uri(server, WireFormat.RoutePrefix + bad.Route))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        if (bad.Method != "GET")
        {
            request.Content = bad.Chunked ? new StreamContent(new MemoryStream(bad.Body)) : new ByteArrayContent(bad.Body);
            if (bad.Chunked)
            {
                request.Content.Headers.ContentLength = null;
            }

            if (bad.ContentType is not null)
            {
                request.Content.Headers.ContentType = new MediaTypeHeaderValue(bad.ContentType);
            }
        }

        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        try
        {
            Envelope.ReadReply<Nil>(new ReadOnlySequence<byte>(body));
            return ErrorCode.Ok;
        }
        catch (GfsException e)
        {
            return e.Code;
        }
    }

    /// <summary>One of every kind of bad body: malformed, hostile sizes and nesting, wrong route, method or content type.</summary>
    private static List<BadBody> BadBodies()
    {
        var valid = MessagePackSerializer.Serialize(new Echo { Text = "valid", Number = 42 }, WireFormat.Options);
        var garbage = new byte[4096];
        new Random(1234).NextBytes(garbage);
        garbage[0] = 0xc1; // never valid in MessagePack
        var hugeMap = new byte[] { 0xdf, 0x00, 0x98, 0x96, 0x80, 0x01, 0x02 }; // map32 declaring 10^7 entries
        var deep = Enumerable.Repeat((byte)0x91, 10_000).Append((byte)0xc0).ToArray(); // 10,000 nested arrays
        var oversize = new byte[MaxMessageBytes + 1024];
        oversize[0] = 0xc6;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(oversize.AsSpan(1), (uint)(oversize.Length - 5));
        var upload = new ArrayBufferWriter<byte>();
        Envelope.WriteUploadPrefix(upload, new Echo { Text = "u" }, 1024 * 1024);
        var hugeUpload = new ArrayBufferWriter<byte>();
        Envelope.WriteUploadPrefix(hugeUpload, new Echo { Text = "u" }, uint.MaxValue);
        return
        [
            new("truncated body", "bench/Echo", valid[..(valid.Length / 2)], ErrorCode.MalformedMessage),
            new("empty body", "bench/Echo", [], ErrorCode.MalformedMessage),
            new("random garbage", "bench/Echo", garbage, ErrorCode.MalformedMessage),
            new("trailing bytes", "bench/Echo", [.. valid, 0x01], ErrorCode.MalformedMessage),
            new("map declaring 10^7 entries", "bench/Echo", hugeMap, ErrorCode.MalformedMessage),
            new("nesting 10,000 levels", "bench/Echo", deep, ErrorCode.MalformedMessage),
            new("body over the size limit", "bench/Echo", oversize, ErrorCode.PayloadTooLarge),
            new("body over the size limit, no content length", "bench/Echo", oversize, ErrorCode.PayloadTooLarge, Chunked: true),
            new("unknown route", "nope/Nothing", valid, ErrorCode.UnknownRoute),
            new("GET on an RPC route", "bench/Echo", valid, ErrorCode.UnknownRoute, Method: "GET"),
            new("wrong content type", "bench/Echo", valid, ErrorCode.UnsupportedMediaType, ContentType: "application/json"),
            new("upload shorter than declared", "bench/Sink", [.. upload.WrittenSpan, .. new byte[100]], ErrorCode.MalformedMessage),
            new("upload declaring 4 GiB", "bench/Sink", hugeUpload.WrittenSpan.ToArray(), ErrorCode.PayloadTooLarge),
            new("download with a garbage request", "bench/Source", garbage, ErrorCode.MalformedMessage),
        ];
    }

    private sealed record BadBody(string Name, string Route, byte[] Body, ErrorCode Expected, string Method = "POST", string? ContentType = WireFormat.ContentType, bool Chunked = false);

    [MessagePackObject]
    public sealed class Echo
    {
        [Key(0)]
        public string Text { get; set; } = "";

        [Key(1)]
        public int Number { get; set; }
    }
}
