using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using Gfs.Client.Protocol;
using MessagePack;

namespace Gfs.Node.Tests.Rpc;

/// <summary>
/// Hand-made request bodies sent over real HTTP/2: each gets the right typed error and the server
/// keeps serving. (Peak memory under them is the `memory` benchmark's, docs/benchmarks.md.)
/// </summary>
public sealed class BadInputTests : IAsyncLifetime
{
    private const int MaxMessageBytes = 1024 * 1024;
    private TransportServer server = null!;
    private HttpClient raw = null!;

    public static TheoryData<string> Cases => [.. BadBodies().Keys];

    public async ValueTask InitializeAsync()
    {
        server = await TransportServer.StartAsync(tls: false, maxMessageBytes: MaxMessageBytes);
        raw = new HttpClient(new SocketsHttpHandler())
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    public async ValueTask DisposeAsync()
    {
        raw.Dispose();
        await server.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BadRequest_GetsItsTypedError_AndTheServerKeepsServing(string name)
    {
        var bad = BadBodies()[name];

        var (status, error) = await SendAsync(bad);

        Assert.Equal(bad.Expected, error.Code);
        Assert.Equal(RpcStatus(bad.Expected), status);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        Assert.DoesNotContain(" at Gfs.", error.Message, StringComparison.Ordinal);
        await AssertStillServingAsync();
    }

    private static Dictionary<string, BadBody> BadBodies()
    {
        var valid = MessagePackSerializer.Serialize(new EchoMessage { Text = "valid", Number = 42, Items = ["a", "b", "c"] }, WireFormat.Options);
        var garbage = new byte[4096];
        new Random(1234).NextBytes(garbage);
        garbage[0] = 0xc1; // never valid in MessagePack, so the case is deterministic

        var hugeMap = new byte[] { 0xdf, 0x00, 0x98, 0x96, 0x80, 0x01, 0x02 }; // map32 declaring 10^7 entries
        var deep = Enumerable.Repeat((byte)0x91, 10_000).Append((byte)0xc0).ToArray(); // 10,000 nested one-element arrays
        var oversize = new byte[MaxMessageBytes + 1024];
        oversize[0] = 0xc6;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(oversize.AsSpan(1), (uint)(oversize.Length - 5));

        var upload = new ArrayBufferWriter<byte>();
        Envelope.WriteUploadPrefix(upload, new EchoMessage { Text = "u" }, 1024 * 1024);
        var truncatedUpload = upload.WrittenSpan.ToArray().Concat(new byte[100]).ToArray();
        var hugeUpload = new ArrayBufferWriter<byte>();
        Envelope.WriteUploadPrefix(hugeUpload, new EchoMessage { Text = "u" }, uint.MaxValue);

        return new Dictionary<string, BadBody>
        {
            ["truncated body"] = new("test/Echo", valid[..(valid.Length / 2)], ErrorCode.MalformedMessage),
            ["empty body"] = new("test/Echo", [], ErrorCode.MalformedMessage),
            ["random garbage"] = new("test/Echo", garbage, ErrorCode.MalformedMessage),
            ["trailing bytes"] = new("test/Echo", [.. valid, 0x01], ErrorCode.MalformedMessage),
            ["map declaring 10^7 entries"] = new("test/Echo", hugeMap, ErrorCode.MalformedMessage),
            ["nesting 10,000 levels"] = new("test/Echo", deep, ErrorCode.MalformedMessage),
            ["wrong shape"] = new("test/Echo", MessagePackSerializer.Serialize("a string, not an EchoMessage", WireFormat.Options), ErrorCode.MalformedMessage),
            ["body over the size limit"] = new("test/Echo", oversize, ErrorCode.PayloadTooLarge),
            ["body over the size limit, no content length"] = new("test/Echo", oversize, ErrorCode.PayloadTooLarge, ChunkedBody: true),
            ["unknown route"] = new("nope/Nothing", valid, ErrorCode.UnknownRoute),
            ["GET on an RPC route"] = new("test/Echo", valid, ErrorCode.UnknownRoute, Method: "GET"),
            ["wrong content type"] = new("test/Echo", valid, ErrorCode.UnsupportedMediaType, ContentType: "application/json"),
            ["no content type"] = new("test/Echo", valid, ErrorCode.UnsupportedMediaType, ContentType: null),
            ["upload shorter than declared"] = new("test/Sink", truncatedUpload, ErrorCode.MalformedMessage),
            ["upload declaring 4 GiB"] = new("test/Sink", hugeUpload.WrittenSpan.ToArray(), ErrorCode.PayloadTooLarge),
            ["upload without its header array"] = new("test/Sink", valid, ErrorCode.MalformedMessage),
            ["download with a garbage request"] = new("test/Source", garbage, ErrorCode.MalformedMessage),
        };
    }

    private static HttpStatusCode RpcStatus(ErrorCode code) => code switch
    {
        ErrorCode.MalformedMessage => HttpStatusCode.BadRequest,
        ErrorCode.PayloadTooLarge => HttpStatusCode.RequestEntityTooLarge,
        ErrorCode.UnknownRoute => HttpStatusCode.NotFound,
        ErrorCode.UnsupportedMediaType => HttpStatusCode.UnsupportedMediaType,
        _ => throw new ArgumentOutOfRangeException(nameof(code), code, null),
    };

    private async Task<(HttpStatusCode Status, GfsException Error)> SendAsync(BadBody bad)
    {
        using var request = new HttpRequestMessage(new HttpMethod(bad.Method), new Uri(server.Url, WireFormat.RoutePrefix + bad.Route))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        if (bad.Method != "GET")
        {
            request.Content = bad.ChunkedBody ? new StreamContent(new MemoryStream(bad.Body)) : new ByteArrayContent(bad.Body);
            if (bad.ChunkedBody)
            {
                request.Content.Headers.ContentLength = null;
            }

            if (bad.ContentType is not null)
            {
                request.Content.Headers.ContentType = new MediaTypeHeaderValue(bad.ContentType);
            }
        }

        using var response = await raw.SendAsync(request);
        Assert.True(WireFormat.ContentType == response.Content.Headers.ContentType?.MediaType, $"{(int)response.StatusCode} {response.Content.Headers.ContentType} {await response.Content.ReadAsStringAsync()}");
        var body = await response.Content.ReadAsByteArrayAsync();
        var error = Assert.Throws<GfsException>(() => Envelope.ReadReply<Nil>(new ReadOnlySequence<byte>(body)));
        return (response.StatusCode, error);
    }

    private async Task AssertStillServingAsync()
    {
        var echo = await server.Client.CallAsync<EchoMessage, EchoMessage>(server.Url, "test/Echo", new EchoMessage { Text = "still here" });
        Assert.Equal("still here", echo.Text);
    }

    public sealed record BadBody(string Route, byte[] Body, ErrorCode Expected, string Method = "POST", string? ContentType = WireFormat.ContentType, bool ChunkedBody = false)
    {
        public override string ToString() => Route;
    }
}
