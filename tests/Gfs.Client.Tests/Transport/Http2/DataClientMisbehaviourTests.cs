using System.Buffers.Binary;
using Gfs.Client.Protocol;
using Gfs.Client.Transport;
using Gfs.Client.Transport.Http2;

namespace Gfs.Client.Tests.Transport.Http2;

/// <summary>The data client against a raw-socket server that misbehaves: typed Unavailable, never a hang.</summary>
public sealed class DataClientMisbehaviourTests
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task UnknownFrameTypesAndPriority_AreIgnored_AndPingIsAnswered()
    {
        var pingAnswered = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeHttp2Server(async (connection, _) =>
        {
            await connection.HandshakeAsync();
            var (stream, _, _) = await connection.ReadRequestAsync();
            await connection.SendFrameAsync((FrameType)0xee, 0xff, stream, new byte[100]);
            await connection.SendFrameAsync((FrameType)0xef, 0, 0, []);
            await connection.SendFrameAsync(FrameType.Priority, 0, stream, new byte[5]);
            await connection.SendFrameAsync(FrameType.Ping, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]);
            await connection.SendDownloadReplyAsync(stream, [42, 43, 44]);
            while (true)
            {
                var (header, payload) = await connection.ReadFrameAsync();
                if (header.Type == FrameType.Ping)
                {
                    Assert.True(header.HasFlag(FrameFlags.Ack));
                    pingAnswered.TrySetResult(payload);
                    break;
                }
            }

            await connection.ClientClosedAsync(Budget);
        });
        using var client = new RpcClient(new RpcClientOptions());

        await using (var download = await client.DownloadAsync<long, long>(server.Url, "fake/Download", 1, Budget, TestContext.Current.CancellationToken))
        {
            Assert.Equal(7, download.Header);
            var buffer = new byte[10];
            Assert.Equal(3, await download.ReadAsync(buffer, TestContext.Current.CancellationToken));
            Assert.Equal(new byte[] { 42, 43, 44 }, buffer[..3]);
        }

        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, await pingAnswered.Task.WaitAsync(Budget, TestContext.Current.CancellationToken));
        Assert.Empty(server.Errors);
    }

    [Fact]
    public async Task OversizeFrame_IsUnavailable_AndTheConnectionIsClosed()
    {
        var closed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeHttp2Server(async (connection, _) =>
        {
            await connection.HandshakeAsync();
            var (stream, _, _) = await connection.ReadRequestAsync();
            await connection.SendHeadersAsync(stream, endStream: false);
            await connection.SendFrameAsync(FrameType.Data, 0, stream, new byte[(16 * 1024) + 1]);
            closed.TrySetResult(await connection.ClientClosedAsync(Budget));
        });
        using var client = new RpcClient(new RpcClientOptions { Http2MaxFrameBytes = 16 * 1024 });

        var e = await Assert.ThrowsAsync<GfsException>(() => client.DownloadAsync<long, long>(server.Url, "fake/Download", 1, Budget, TestContext.Current.CancellationToken));

        Assert.Equal(ErrorCode.Unavailable, e.Code);
        Assert.Contains("exceeds our SETTINGS_MAX_FRAME_SIZE", e.Message, StringComparison.Ordinal);
        Assert.True(await closed.Task.WaitAsync(Budget, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task GoAway_BelowTheStream_IsRetriedOnceOnANewConnection()
    {
        await using var server = new FakeHttp2Server(async (connection, index) =>
        {
            await connection.HandshakeAsync();
            var (stream, _, _) = await connection.ReadRequestAsync();
            if (index == 0)
            {
                var goAway = new byte[8];
                BinaryPrimitives.WriteInt32BigEndian(goAway, 0); // last stream 0: the request was not processed
                await connection.SendFrameAsync(FrameType.GoAway, 0, 0, goAway);
                return;
            }

            await connection.SendDownloadReplyAsync(stream, [9]);
            await connection.ClientClosedAsync(Budget);
        });
        using var client = new RpcClient(new RpcClientOptions());

        await using var download = await client.DownloadAsync<long, long>(server.Url, "fake/Download", 1, Budget, TestContext.Current.CancellationToken);

        Assert.Equal(1, download.Length);
        Assert.Equal(2, server.Accepted);
    }

    [Fact]
    public async Task GoAway_EveryTime_IsUnavailable()
    {
        await using var server = new FakeHttp2Server(async (connection, _) =>
        {
            await connection.HandshakeAsync();
            await connection.ReadRequestAsync();
            var goAway = new byte[8];
            BinaryPrimitives.WriteUInt32BigEndian(goAway.AsSpan(4), (uint)Http2ErrorCode.EnhanceYourCalm);
            await connection.SendFrameAsync(FrameType.GoAway, 0, 0, goAway);
            await connection.ClientClosedAsync(Budget);
        });
        using var client = new RpcClient(new RpcClientOptions());

        var e = await Assert.ThrowsAsync<GfsException>(() => client.UploadAsync<long, long>(server.Url, "fake/Upload", 1, new byte[1000], Budget, TestContext.Current.CancellationToken));

        Assert.Equal(ErrorCode.Unavailable, e.Code);
        Assert.Contains("GOAWAY", e.Message, StringComparison.Ordinal);
        Assert.Contains("fake/Upload on", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("\0\0\0\u0004\0\0\0\0\0garbage-after-an-empty-settings-frame-that-is-not-a-frame-header-at-all")]
    public async Task Garbage_IsUnavailable_WithoutAHang(string garbage)
    {
        await using var server = new FakeHttp2Server(async (connection, _) =>
        {
            var preface = new byte[FakeConnection.PrefaceLength];
            await connection.Socket.ReceiveAsync(preface);
            await connection.SendRawAsync(System.Text.Encoding.Latin1.GetBytes(garbage));
            await connection.ClientClosedAsync(Budget);
        });
        using var client = new RpcClient(new RpcClientOptions());

        var e = await Assert.ThrowsAsync<GfsException>(() => client.DownloadAsync<long, long>(server.Url, "fake/Download", 1, Budget, TestContext.Current.CancellationToken));

        Assert.Equal(ErrorCode.Unavailable, e.Code);
    }

    [Fact]
    public async Task BadHeaderBlock_IsUnavailable()
    {
        await using var server = new FakeHttp2Server(async (connection, _) =>
        {
            await connection.HandshakeAsync();
            var (stream, _, _) = await connection.ReadRequestAsync();
            await connection.SendFrameAsync(FrameType.Headers, FrameFlags.EndHeaders, stream, [0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
            await connection.ClientClosedAsync(Budget);
        });
        using var client = new RpcClient(new RpcClientOptions());

        var e = await Assert.ThrowsAsync<GfsException>(() => client.UploadAsync<long, long>(server.Url, "fake/Upload", 1, new byte[10], Budget, TestContext.Current.CancellationToken));

        Assert.Equal(ErrorCode.Unavailable, e.Code);
        Assert.Contains("COMPRESSION_ERROR", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SilentServer_EndsAtTheDeadline()
    {
        await using var server = new FakeHttp2Server(async (connection, _) =>
        {
            await connection.HandshakeAsync();
            await connection.ReadRequestAsync();
            await connection.ClientClosedAsync(Budget);
        });
        using var client = new RpcClient(new RpcClientOptions());

        var e = await Assert.ThrowsAsync<GfsException>(() => client.DownloadAsync<long, long>(server.Url, "fake/Download", 1, TimeSpan.FromMilliseconds(300), TestContext.Current.CancellationToken));

        Assert.Equal(ErrorCode.DeadlineExceeded, e.Code);
    }

    [Fact]
    public async Task SmallWindowsAndFrames_AreObeyed_IncludingAnInitialWindowChangeMidStream()
    {
        const int frame = 16 * 1024;
        const int initialWindow = 1000;
        var payload = new byte[200_000];
        new Random(5).NextBytes(payload);
        var prefix = new System.Buffers.ArrayBufferWriter<byte>();
        Envelope.WriteUploadPrefix(prefix, 1L, payload.Length);
        await using var server = new FakeHttp2Server(async (connection, _) =>
        {
            await connection.HandshakeAsync((SettingId.MaxFrameSize, frame), (SettingId.InitialWindowSize, initialWindow));
            long streamWindow = initialWindow;
            var body = new List<byte>();
            var raised = false;
            while (true)
            {
                var (header, data) = await connection.ReadFrameAsync();
                if (header.Type != FrameType.Data)
                {
                    continue;
                }

                Assert.True(header.Length <= frame, $"a DATA frame of {header.Length} bytes");
                streamWindow -= header.Length;
                Assert.True(streamWindow >= 0, "the client overran the stream window");
                body.AddRange(data);
                if (header.HasFlag(FrameFlags.EndStream))
                {
                    break;
                }

                if (streamWindow == 0 && !raised)
                {
                    // Raise the initial window: the open stream's window grows by the difference.
                    raised = true;
                    var settings = new byte[6];
                    BinaryPrimitives.WriteUInt16BigEndian(settings, (ushort)SettingId.InitialWindowSize);
                    BinaryPrimitives.WriteUInt32BigEndian(settings.AsSpan(2), initialWindow + 5000);
                    await connection.SendFrameAsync(FrameType.Settings, 0, 0, settings);
                    streamWindow += 5000;
                }
                else if (streamWindow == 0)
                {
                    await connection.SendFrameAsync(FrameType.WindowUpdate, 0, header.StreamId, FakeConnection.WindowIncrement(30_000));
                    streamWindow += 30_000;
                }
            }

            var reply = new System.Buffers.ArrayBufferWriter<byte>();
            Envelope.WriteReply(reply, (long)body.Count);
            await connection.SendHeadersAsync(1, endStream: false);
            await connection.SendFrameAsync(FrameType.Data, FrameFlags.EndStream, 1, reply.WrittenSpan.ToArray());
            Assert.Equal(payload.Length + prefix.WrittenCount, body.Count);
            await connection.ClientClosedAsync(Budget);
        });
        using var client = new RpcClient(new RpcClientOptions());

        var received = await client.UploadAsync<long, long>(server.Url, "fake/Upload", 1, payload, Budget, TestContext.Current.CancellationToken);

        Assert.Equal(payload.Length + prefix.WrittenCount, received); // the envelope prefix counts too
        Assert.Empty(server.Errors);
    }
}
