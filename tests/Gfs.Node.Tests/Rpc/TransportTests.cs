using System.Security.Cryptography;
using Gfs.Client.Protocol;
using Gfs.Client.Transport;
using Gfs.Testing;

namespace Gfs.Node.Tests.Rpc;

public sealed class TransportTests
{
    private const long SixtyFourMiB = 64L * 1024 * 1024;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Unary_RoundTrip_ReturnsTheSameMessage(bool tls)
    {
        await using var server = await TransportServer.StartAsync(tls);
        var sent = new EchoMessage { Text = "héllo wörld", Number = long.MinValue, Items = ["a", "", new string('x', 10_000)] };

        var received = await server.Client.CallAsync<EchoMessage, EchoMessage>(server.Url, "test/Echo", sent);

        Assert.Equal(sent.Text, received.Text);
        Assert.Equal(sent.Number, received.Number);
        Assert.Equal(sent.Items, received.Items);
        Assert.Equal(tls ? "https" : "http", server.Url.Scheme);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Stream_64MiB_UploadThenDownload_HasIdenticalSha256(bool tls)
    {
        await using var server = await TransportServer.StartAsync(tls);
        using var sentHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var random = new Random(tls ? 7 : 11);

        var sink = await server.Client.UploadAsync<EchoMessage, SinkReply>(server.Url, "test/Sink", new EchoMessage { Text = "upload" }, SixtyFourMiB, async (stream, ct) =>
        {
            var block = new byte[1024 * 1024];
            for (long sent = 0; sent < SixtyFourMiB; sent += block.Length)
            {
                random.NextBytes(block);
                sentHash.AppendData(block);
                await stream.WriteAsync(block, ct);
            }
        });
        var expected = sentHash.GetHashAndReset();

        Assert.Equal(SixtyFourMiB, sink.Length);
        Assert.Equal(expected, sink.Sha256);

        // Kestrel's own pool has 4 KiB blocks; ours (LargeBlockMemoryPool) hands out larger segments.
        Assert.True(sink.LargestSegment > 4096, $"the largest upload segment was {sink.LargestSegment} bytes: Kestrel is not using the large-block pool");

        await using var download = await server.Client.DownloadAsync<SourceRequest, SourceHeader>(server.Url, "test/Source", new SourceRequest { Id = sink.Id });
        Assert.Equal(sink.Id, download.Header.Id);
        Assert.Equal(SixtyFourMiB, download.Length);
        using var receivedHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long received = 0;
        await download.CopyToAsync((segment, _) =>
        {
            foreach (var memory in segment)
            {
                receivedHash.AppendData(memory.Span);
                received += memory.Length;
            }

            return ValueTask.CompletedTask;
        });

        Assert.Equal(SixtyFourMiB, received);
        Assert.Equal(expected, receivedHash.GetHashAndReset());
    }

    [Fact]
    public async Task Download_ThroughBodyStream_ReturnsEveryByteThenEnds()
    {
        await using var server = await TransportServer.StartAsync(tls: false);
        const long length = (3 * 1024 * 1024) + 17;
        await using var download = await server.Client.DownloadAsync<SourceRequest, SourceHeader>(server.Url, "test/Source", new SourceRequest { Length = length });

        var buffer = new byte[70_001];
        long position = 0;
        int n;
        while ((n = await download.Body.ReadAsync(buffer)) > 0)
        {
            for (var i = 0; i < n; i++)
            {
                Assert.Equal(PatternStream.At(position + i), buffer[i]);
            }

            position += n;
        }

        Assert.Equal(length, position);
        Assert.Equal(0, download.Remaining);
    }

    [Fact]
    public async Task Handler_TypedError_ReachesTheClientWithItsCode()
    {
        await using var server = await TransportServer.StartAsync(tls: false);

        var e = await Assert.ThrowsAsync<GfsException>(() => server.Client.CallAsync<EchoMessage, EchoMessage>(server.Url, "test/Fail", new EchoMessage { Text = "x" }));

        Assert.Equal(ErrorCode.NotFound, e.Code);
        Assert.Contains("no such thing: x", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NotLeader_CarriesTheLeaderUrl()
    {
        await using var server = await TransportServer.StartAsync(tls: false);

        var e = await Assert.ThrowsAsync<GfsException>(() => server.Client.CallAsync<EchoMessage, EchoMessage>(server.Url, "test/NotLeader", new EchoMessage()));

        Assert.Equal(ErrorCode.NotLeader, e.Code);
        Assert.Equal("https://leader.example:9000", e.LeaderUrl);
        Assert.True(e.IsTransient);
    }

    [Fact]
    public async Task MasterClient_WhenTheOnlyMasterKeepsSayingNotLeader_GivesUpWithUnavailable_NotARawNotLeader()
    {
        await using var server = await TransportServer.StartAsync(tls: false);
        var options = new Gfs.Client.GfsClientOptions
        {
            Masters = [server.Url],
            OperationTimeout = TimeSpan.FromSeconds(1),
            InitialRetryDelay = TimeSpan.FromMilliseconds(10),
            MaxRetryDelay = TimeSpan.FromMilliseconds(50),
        };
        using var master = new Gfs.Client.MasterClient(options, server.Client);

        var e = await Assert.ThrowsAsync<GfsException>(() => master.CallLeaderAsync<EchoMessage, EchoMessage>("test/NotLeaderSelf", new EchoMessage(), TestContext.Current.CancellationToken));

        Assert.Equal(ErrorCode.Unavailable, e.Code);
        Assert.Contains("no leader answered within 1 s", e.Message, StringComparison.Ordinal);
        Assert.Contains("the leader is me", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Handler_UnexpectedException_IsInternalWithoutDetails()
    {
        await using var server = await TransportServer.StartAsync(tls: false);

        var e = await Assert.ThrowsAsync<GfsException>(() => server.Client.CallAsync<EchoMessage, EchoMessage>(server.Url, "test/Crash", new EchoMessage()));

        Assert.Equal(ErrorCode.Internal, e.Code);
        Assert.DoesNotContain("secret", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", e.Message, StringComparison.Ordinal);
        Assert.Contains("incident", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Download_FailingMidStream_ThrowsTheTypedErrorFromTrailers()
    {
        await using var server = await TransportServer.StartAsync(tls: false);
        await using var download = await server.Client.DownloadAsync<SourceRequest, SourceHeader>(server.Url, "test/Source", new SourceRequest { Length = 8 * 1024 * 1024, FailAfter = 1024 * 1024 });

        var e = await Assert.ThrowsAsync<GfsException>(async () => await download.CopyToAsync(Stream.Null));

        Assert.Equal(ErrorCode.ChecksumMismatch, e.Code);
        Assert.True(download.Remaining > 0);
    }

    [Fact]
    public async Task Download_UnknownId_IsNotFoundBeforeAnyData()
    {
        await using var server = await TransportServer.StartAsync(tls: false);

        var e = await Assert.ThrowsAsync<GfsException>(() => server.Client.DownloadAsync<SourceRequest, SourceHeader>(server.Url, "test/Source", new SourceRequest { Id = "missing" }));

        Assert.Equal(ErrorCode.NotFound, e.Code);
    }

    [Fact]
    public async Task Deadline_IsPropagated_ClientGetsDeadlineExceeded_AndServerHandlerIsCancelled()
    {
        await using var server = await TransportServer.StartAsync(tls: false);

        var e = await Assert.ThrowsAsync<GfsException>(() => server.Client.CallAsync<SlowRequest, EchoMessage>(
            server.Url, "test/Slow", new SlowRequest { Milliseconds = 60_000, Tag = "deadline" }, timeout: TimeSpan.FromMilliseconds(300)));

        Assert.Equal(ErrorCode.DeadlineExceeded, e.Code);
        await Retry.Until("the server handler saw its token fire", () => server.CancelledCalls.TryGetValue("deadline", out var seen) && seen.Task.IsCompleted, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Cancellation_ByTheCaller_CancelsTheServerHandler()
    {
        await using var server = await TransportServer.StartAsync(tls: false);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => server.Client.CallAsync<SlowRequest, EchoMessage>(
            server.Url, "test/Slow", new SlowRequest { Milliseconds = 60_000, Tag = "cancel" }, cancellationToken: cts.Token));

        await Retry.Until("the server handler saw its token fire", () => server.CancelledCalls.TryGetValue("cancel", out var seen) && seen.Task.IsCompleted, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task UnreachableNode_IsUnavailable()
    {
        using var client = new RpcClient(new RpcClientOptions());
        var url = new Uri($"http://127.0.0.1:{FreePort.Next()}");

        var e = await Assert.ThrowsAsync<GfsException>(() => client.CallAsync<EchoMessage, EchoMessage>(url, "test/Echo", new EchoMessage()));

        Assert.Equal(ErrorCode.Unavailable, e.Code);
        Assert.True(e.IsTransient);
    }

    [Fact]
    public async Task Tls_WithAnUntrustedCertificate_IsRefused()
    {
        await using var server = await TransportServer.StartAsync(tls: true);
        using var stranger = new TempDirectory();
        using var client = new RpcClient(new RpcClientOptions { TrustedRoots = [TestCertificates.Create(stranger.Path).Ca] });

        var e = await Assert.ThrowsAsync<GfsException>(() => client.CallAsync<EchoMessage, EchoMessage>(server.Url, "test/Echo", new EchoMessage()));

        Assert.Equal(ErrorCode.Unavailable, e.Code);
    }

    [Fact]
    public async Task ManyConcurrentCalls_OnOneClient_AllSucceed()
    {
        await using var server = await TransportServer.StartAsync(tls: false);

        var replies = await Task.WhenAll(Enumerable.Range(0, 500).Select(i =>
            server.Client.CallAsync<EchoMessage, EchoMessage>(server.Url, "test/Echo", new EchoMessage { Number = i })));

        Assert.Equal(Enumerable.Range(0, 500).Select(i => (long)i), replies.Select(r => r.Number));
    }
}
