using System.Security.Cryptography;
using Gfs.Client.Protocol;
using Gfs.Client.Transport;
using Gfs.Testing;

namespace Gfs.Node.Tests.Rpc;

/// <summary>
/// The HTTP/2 data client (uploads and downloads of <see cref="RpcClient"/>) against real Kestrel
/// servers, over h2c and TLS.
/// </summary>
public sealed class DataClientTests
{
    public static TheoryData<bool, int> Sizes()
    {
        var data = new TheoryData<bool, int>();
        foreach (var tls in new[] { false, true })
        {
            foreach (var size in new[] { 0, 1, 16383, 16384, 16385, (1 << 20) - 1, (1 << 20) + 1, 64 << 20 })
            {
                data.Add(tls, size);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public async Task RoundTrip_UploadThenReadAsyncIntoACallerBuffer_HasIdenticalSha256(bool tls, int size)
    {
        await using var server = await TransportServer.StartAsync(tls);
        var payload = new byte[size];
        new Random(size).NextBytes(payload);
        var expected = SHA256.HashData(payload);

        // The streamed overload, written in uneven pieces.
        var sink = await server.Client.UploadAsync<EchoMessage, SinkReply>(server.Url, "test/Sink", new EchoMessage(), size, async (stream, ct) =>
        {
            var at = 0;
            var piece = 1;
            while (at < size)
            {
                var n = Math.Min(size - at, piece);
                await stream.WriteAsync(payload.AsMemory(at, n), ct);
                at += n;
                piece = Math.Min(piece * 7, 3 << 20);
            }
        }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(size, sink.Length);
        Assert.Equal(expected, sink.Sha256);

        // The in-memory overload.
        var again = await server.Client.UploadAsync<EchoMessage, SinkReply>(server.Url, "test/Sink", new EchoMessage(), payload.AsMemory(), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(expected, again.Sha256);

        await using var download = await server.Client.DownloadAsync<SourceRequest, SourceHeader>(server.Url, "test/Source", new SourceRequest { Id = sink.Id }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(size, download.Length);
        var received = new byte[size];
        var filled = 0;
        while (download.Remaining > 0)
        {
            var n = await download.ReadAsync(received.AsMemory(filled), TestContext.Current.CancellationToken);
            Assert.True(n > 0);
            filled += n;
        }

        Assert.Equal(size, filled);
        Assert.Equal(0, await download.ReadAsync(new byte[16], TestContext.Current.CancellationToken));
        Assert.Equal(expected, SHA256.HashData(received));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Download_ThroughCopyToAndBody_ReturnsEveryByte(bool tls)
    {
        await using var server = await TransportServer.StartAsync(tls);
        const long length = (5L << 20) + 3;

        await using (var download = await server.Client.DownloadAsync<SourceRequest, SourceHeader>(server.Url, "test/Source", new SourceRequest { Length = length }))
        {
            long position = 0;
            await download.CopyToAsync((segment, _) =>
            {
                foreach (var memory in segment)
                {
                    for (var i = 0; i < memory.Length; i++)
                    {
                        Assert.Equal(PatternStream.At(position + i), memory.Span[i]);
                    }

                    position += memory.Length;
                }

                return ValueTask.CompletedTask;
            });
            Assert.Equal(length, position);
        }

        await using (var download = await server.Client.DownloadAsync<SourceRequest, SourceHeader>(server.Url, "test/Source", new SourceRequest { Length = length }))
        {
            var copy = new MemoryStream();
            await download.Body.CopyToAsync(copy, TestContext.Current.CancellationToken);
            Assert.Equal(length, copy.Length);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ThirtyTwoConcurrentTransfers_AllArriveWhole(bool tls)
    {
        await using var server = await TransportServer.StartAsync(tls);
        const int size = (2 << 20) + 5;

        await Task.WhenAll(Enumerable.Range(0, 32).Select(async i =>
        {
            var payload = new byte[size];
            new Random(i).NextBytes(payload);
            var sink = await server.Client.UploadAsync<EchoMessage, SinkReply>(server.Url, "test/Sink", new EchoMessage { Number = i }, payload.AsMemory());
            Assert.Equal(SHA256.HashData(payload), sink.Sha256);

            await using var download = await server.Client.DownloadAsync<SourceRequest, SourceHeader>(server.Url, "test/Source", new SourceRequest { Id = sink.Id });
            Assert.Equal(payload, await ReadAllAsync(download));
        }));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TypedError_BeforeData_ReachesTheCaller_AndTheConnectionStaysUsable(bool tls)
    {
        await using var server = await TransportServer.StartAsync(tls);

        var e = await Assert.ThrowsAsync<GfsException>(() => server.Client.DownloadAsync<SourceRequest, SourceHeader>(server.Url, "test/Source", new SourceRequest { Id = "missing" }));
        Assert.Equal(ErrorCode.NotFound, e.Code);

        var upload = await Assert.ThrowsAsync<GfsException>(() => server.Client.UploadAsync<EchoMessage, EchoMessage>(server.Url, "test/NoSuchUpload", new EchoMessage(), new byte[100]));
        Assert.Equal(ErrorCode.UnknownRoute, upload.Code);

        await using var download = await server.Client.DownloadAsync<SourceRequest, SourceHeader>(server.Url, "test/Source", new SourceRequest { Length = 10 });
        Assert.Equal(10, download.Length);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TypedError_MidDownload_ComesFromTheTrailers_ThroughReadAsync(bool tls)
    {
        await using var server = await TransportServer.StartAsync(tls);
        await using var download = await server.Client.DownloadAsync<SourceRequest, SourceHeader>(server.Url, "test/Source", new SourceRequest { Length = 8 << 20, FailAfter = 3 << 20 });
        var buffer = new byte[1 << 20];

        var e = await Assert.ThrowsAsync<GfsException>(async () =>
        {
            while (download.Remaining > 0)
            {
                await download.ReadAsync(buffer);
            }
        });

        Assert.Equal(ErrorCode.ChecksumMismatch, e.Code);
        Assert.Contains("failed verification", e.Message, StringComparison.Ordinal);
        Assert.True(download.Remaining > 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Deadline_IsDeadlineExceeded_AndTheServerHandlerIsCancelled(bool tls)
    {
        await using var server = await TransportServer.StartAsync(tls);

        var upload = await Assert.ThrowsAsync<GfsException>(() => server.Client.UploadAsync<SlowRequest, SinkReply>(
            server.Url, "test/SlowSink", new SlowRequest { Milliseconds = 60_000, Tag = "upload" }, new byte[100_000], timeout: TimeSpan.FromMilliseconds(500)));
        Assert.Equal(ErrorCode.DeadlineExceeded, upload.Code);
        await Retry.Until("the upload handler saw its token fire", () => server.CancelledCalls.TryGetValue("upload", out var seen) && seen.Task.IsCompleted, TimeSpan.FromSeconds(10));

        var download = await server.Client.DownloadAsync<SlowRequest, SourceHeader>(
            server.Url, "test/SlowSource", new SlowRequest { Milliseconds = 60_000, Tag = "download" }, timeout: TimeSpan.FromMilliseconds(1500));
        await using (download)
        {
            var buffer = new byte[1 << 20];
            var e = await Assert.ThrowsAsync<GfsException>(async () =>
            {
                while (download.Remaining > 0)
                {
                    await download.ReadAsync(buffer);
                }
            });
            Assert.Equal(ErrorCode.DeadlineExceeded, e.Code);
        }

        await Retry.Until("the download handler saw its token fire", () => server.CancelledCalls.TryGetValue("download", out var seen) && seen.Task.IsCompleted, TimeSpan.FromSeconds(10));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Cancellation_ByTheCaller_IsOperationCanceled_AndTheServerHandlerIsCancelled(bool tls)
    {
        await using var server = await TransportServer.StartAsync(tls);

        using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => server.Client.UploadAsync<SlowRequest, SinkReply>(
                server.Url, "test/SlowSink", new SlowRequest { Milliseconds = 60_000, Tag = "upload" }, new byte[100_000], cancellationToken: cts.Token));
        }

        await Retry.Until("the upload handler saw its token fire", () => server.CancelledCalls.TryGetValue("upload", out var seen) && seen.Task.IsCompleted, TimeSpan.FromSeconds(10));

        using var reading = new CancellationTokenSource();
        await using (var download = await server.Client.DownloadAsync<SlowRequest, SourceHeader>(server.Url, "test/SlowSource", new SlowRequest { Milliseconds = 60_000, Tag = "download" }))
        {
            var buffer = new byte[1 << 20];
            var first = await download.ReadAsync(buffer, reading.Token);
            Assert.True(first > 0);
            reading.CancelAfter(TimeSpan.FromMilliseconds(200));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                while (download.Remaining > 0)
                {
                    await download.ReadAsync(buffer, reading.Token);
                }
            });
        }

        await Retry.Until("the download handler saw its token fire", () => server.CancelledCalls.TryGetValue("download", out var seen) && seen.Task.IsCompleted, TimeSpan.FromSeconds(10));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SmallServerFramesAndWindows_AreObeyed(bool tls)
    {
        // 16 KiB frames and 64 KiB windows: the client must split its frames and wait for WINDOW_UPDATE.
        await using var server = await TransportServer.StartAsync(tls, configure: o =>
        {
            o.Http2MaxFrameBytes = 16 * 1024;
            o.Http2StreamWindowBytes = 64 * 1024;
            o.Http2ConnectionWindowBytes = 64 * 1024;
        });
        var payload = new byte[(9 << 20) + 77];
        new Random(3).NextBytes(payload);

        var sink = await server.Client.UploadAsync<EchoMessage, SinkReply>(server.Url, "test/Sink", new EchoMessage(), payload.Length, async (stream, ct) =>
        {
            for (var at = 0; at < payload.Length; at += 1 << 20)
            {
                await stream.WriteAsync(payload.AsMemory(at, Math.Min(1 << 20, payload.Length - at)), ct);
            }
        });
        Assert.Equal(SHA256.HashData(payload), sink.Sha256);

        var again = await server.Client.UploadAsync<EchoMessage, SinkReply>(server.Url, "test/Sink", new EchoMessage(), payload.AsMemory());
        Assert.Equal(SHA256.HashData(payload), again.Sha256);

        await using var download = await server.Client.DownloadAsync<SourceRequest, SourceHeader>(server.Url, "test/Source", new SourceRequest { Id = sink.Id });
        Assert.Equal(payload, await ReadAllAsync(download));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ServerStoppedAndRestarted_IsUnavailable_ThenThePoolRecovers(bool tls)
    {
        await using var server = await TransportServer.StartAsync(tls);
        var payload = new byte[1 << 20];
        var first = await server.Client.UploadAsync<EchoMessage, SinkReply>(server.Url, "test/Sink", new EchoMessage(), payload.AsMemory());

        await server.StopAsync();
        var down = await Assert.ThrowsAsync<GfsException>(() => server.Client.DownloadAsync<SourceRequest, SourceHeader>(server.Url, "test/Source", new SourceRequest { Length = 10 }));
        Assert.Equal(ErrorCode.Unavailable, down.Code);
        var upload = await Assert.ThrowsAsync<GfsException>(() => server.Client.UploadAsync<EchoMessage, SinkReply>(server.Url, "test/Sink", new EchoMessage(), payload.AsMemory()));
        Assert.Equal(ErrorCode.Unavailable, upload.Code);

        await server.RestartAsync();
        var sink = await server.Client.UploadAsync<EchoMessage, SinkReply>(server.Url, "test/Sink", new EchoMessage(), payload.AsMemory());
        Assert.Equal(first.Sha256, sink.Sha256);
        await using var download = await server.Client.DownloadAsync<SourceRequest, SourceHeader>(server.Url, "test/Source", new SourceRequest { Length = 10 });
        Assert.Equal(10, download.Length);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PooledConnection_ClosedByTheServerWhileIdle_DoesNotFailTheNextCall(bool tls)
    {
        await using var server = await TransportServer.StartAsync(tls, keepAliveTimeout: TimeSpan.FromSeconds(1));
        var payload = new byte[1000];

        await server.Client.UploadAsync<EchoMessage, SinkReply>(server.Url, "test/Sink", new EchoMessage(), payload.AsMemory());
        await Retry.Until("the server closed the idle connection", () => server.ClosedConnections >= 1, TimeSpan.FromSeconds(30));

        // A streamed upload cannot be replayed: the stale connection must be found before anything is sent.
        var sink = await server.Client.UploadAsync<EchoMessage, SinkReply>(server.Url, "test/Sink", new EchoMessage(), payload.Length, (stream, ct) => stream.WriteAsync(payload, ct));
        Assert.Equal(payload.Length, sink.Length);

        await Retry.Until("the server closed the idle connection again", () => server.ClosedConnections >= 2, TimeSpan.FromSeconds(30));
        await using var download = await server.Client.DownloadAsync<SourceRequest, SourceHeader>(server.Url, "test/Source", new SourceRequest { Length = 10 });
        Assert.Equal(10, download.Length);
    }

    [Fact]
    public async Task Upload_WritingMoreOrLessThanDeclared_IsInvalidArgument()
    {
        await using var server = await TransportServer.StartAsync(tls: false);

        var shorter = await Assert.ThrowsAsync<GfsException>(() => server.Client.UploadAsync<EchoMessage, SinkReply>(server.Url, "test/Sink", new EchoMessage(), 100, (stream, ct) => stream.WriteAsync(new byte[99], ct)));
        Assert.Equal(ErrorCode.InvalidArgument, shorter.Code);
        var longer = await Assert.ThrowsAsync<GfsException>(() => server.Client.UploadAsync<EchoMessage, SinkReply>(server.Url, "test/Sink", new EchoMessage(), 100, (stream, ct) => stream.WriteAsync(new byte[101], ct)));
        Assert.Equal(ErrorCode.InvalidArgument, longer.Code);

        var fine = await server.Client.UploadAsync<EchoMessage, SinkReply>(server.Url, "test/Sink", new EchoMessage(), 100, (stream, ct) => stream.WriteAsync(new byte[100], ct));
        Assert.Equal(100, fine.Length);
    }

    /// <summary>Every byte of <paramref name="download"/>, read with <see cref="RpcDownload{THeader}.ReadAsync"/> into one array; each read returns data.</summary>
    private static async Task<byte[]> ReadAllAsync<T>(RpcDownload<T> download)
    {
        var received = new byte[download.Length];
        var filled = 0;
        while (download.Remaining > 0)
        {
            var n = await download.ReadAsync(received.AsMemory(filled), TestContext.Current.CancellationToken);
            Assert.True(n > 0);
            filled += n;
        }

        return received;
    }
}
