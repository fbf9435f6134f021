using System.IO.Hashing;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Transport;
using Gfs.Node.Chunkserver;
using Gfs.Node.Rpc;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gfs.Node.Tests.Chunkserver;

/// <summary>The pipelined push: client → first server, each next server pulling from the one before while it still receives.</summary>
public sealed class PushServiceTests
{
    private const int MiB = 1 << 20;

    [Fact]
    public async Task A_push_reaches_every_server_of_the_chain_with_identical_bytes()
    {
        await using var hosts = await PushHosts.StartAsync(3);
        var data = RandomBytes(9 * MiB + 123);
        var reply = await hosts.Client.UploadAsync<PushHeader, PushReply>(
            hosts.Urls[0], ChunkRoutes.Push, Header("d1", data, hosts.Urls[1], hosts.Urls[2]), data, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(hosts.Urls.Select(u => u.ToString()), reply.Buffered);
        Assert.Empty(reply.Failed);
        foreach (var host in hosts.Hosts)
        {
            var entry = host.Buffer.Find("d1");
            Assert.NotNull(entry);
            Assert.True(entry.Data.Span.SequenceEqual(data));
        }
    }

    [Fact]
    public async Task Forwarding_starts_before_the_upstream_body_is_complete()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var hosts = await PushHosts.StartAsync(2);
        var data = RandomBytes(4 * MiB);
        var tailMayGo = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var push = hosts.Client.UploadAsync<PushHeader, PushReply>(
            hosts.Urls[0], ChunkRoutes.Push, Header("d2", data, hosts.Urls[1]), data.Length,
            async (stream, token) =>
            {
                await stream.WriteAsync(data.AsMemory(0, 3 * MiB), token);
                await stream.FlushAsync(token);
                await tailMayGo.Task.WaitAsync(token); // hold the last MiB back
                await stream.WriteAsync(data.AsMemory(3 * MiB), token);
            },
            cancellationToken: ct);

        // The second server has bytes of the piece while the client still holds the tail back.
        await Gfs.Testing.Retry.Until("the downstream server receives bytes", () => hosts.Hosts[1].Buffer.FindAny("d2") is { Filled: > 0 }, TimeSpan.FromSeconds(20));
        Assert.False(push.IsCompleted);
        Assert.True(hosts.Hosts[1].Buffer.FindAny("d2")!.Filled < data.Length);
        tailMayGo.SetResult();

        var reply = await push;
        Assert.Equal(2, reply.Buffered.Count);
        Assert.True(hosts.Hosts[1].Buffer.Find("d2")!.Data.Span.SequenceEqual(data));
    }

    [Fact]
    public async Task A_wrong_checksum_is_refused_and_nothing_is_kept()
    {
        await using var hosts = await PushHosts.StartAsync(2);
        var data = RandomBytes(MiB);
        var header = Header("d3", data, hosts.Urls[1]);
        header.Crc32C ^= 1;
        var error = await Assert.ThrowsAsync<GfsException>(() => hosts.Client.UploadAsync<PushHeader, PushReply>(
            hosts.Urls[0], ChunkRoutes.Push, header, data, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(ErrorCode.ChecksumMismatch, error.Code);
        await Gfs.Testing.Retry.Until("both buffers are empty", () => hosts.Hosts.All(h => h.Buffer.Count == 0 && h.Buffer.BufferedBytes == 0), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task An_unreachable_hop_is_reported_and_the_servers_before_it_keep_the_data()
    {
        await using var hosts = await PushHosts.StartAsync(2);
        var dead = new Uri($"http://127.0.0.1:{Gfs.Testing.FreePort.Next()}/");
        var data = RandomBytes(MiB);
        var reply = await hosts.Client.UploadAsync<PushHeader, PushReply>(
            hosts.Urls[0], ChunkRoutes.Push, Header("d4", data, hosts.Urls[1], dead), data, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal([hosts.Urls[0].ToString(), hosts.Urls[1].ToString()], reply.Buffered);
        Assert.Equal([dead.ToString()], reply.Failed);
        Assert.NotNull(hosts.Hosts[1].Buffer.Find("d4"));
    }

    [Fact]
    public async Task A_full_buffer_refuses_a_push_when_its_deadline_passes_and_space_returns_on_remove()
    {
        var ct = TestContext.Current.CancellationToken;
        using var buffer = new PushBuffer(2 * MiB, TimeSpan.FromMinutes(1), TimeProvider.System);
        var first = await buffer.BeginAsync("a", 2 * MiB, ct);
        using (var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(200)))
        {
            var full = await Assert.ThrowsAsync<GfsException>(async () => await buffer.BeginAsync("b", MiB, deadline.Token));
            Assert.Equal(ErrorCode.Unavailable, full.Code);
        }

        var waiting = buffer.BeginAsync("c", MiB, ct).AsTask();
        Assert.False(waiting.IsCompleted);
        buffer.Remove(first);
        var second = await waiting.WaitAsync(TimeSpan.FromSeconds(5), ct);
        Assert.Equal(MiB, buffer.BufferedBytes);
        Assert.Equal("c", second.DataId);
    }

    [Fact]
    public async Task Expired_data_is_dropped_but_memory_stays_valid_for_a_reader_holding_it()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var buffer = new PushBuffer(4 * MiB, TimeSpan.FromSeconds(60), time);
        var entry = await buffer.BeginAsync("x", 10, TestContext.Current.CancellationToken);
        var bytes = RandomBytes(10);
        entry.Append(new System.Buffers.ReadOnlySequence<byte>(bytes));
        entry.Complete(Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, bytes));
        Assert.True(entry.TryAcquire());

        time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(0, buffer.Sweep()); // the buffer's own timer already swept it
        Assert.Null(buffer.Find("x"));
        Assert.True(entry.Data.Span.SequenceEqual(bytes)); // still held
        Assert.Equal(10, buffer.BufferedBytes);

        entry.Release();
        Assert.Equal(0, buffer.BufferedBytes);
        Assert.False(entry.TryAcquire());
    }

    private static PushHeader Header(string id, byte[] data, params Uri[] chain) => new()
    {
        DataId = id,
        Length = data.Length,
        Crc32C = Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data),
        Chain = [.. chain.Select(u => u.ToString())],
    };

    private static byte[] RandomBytes(int length)
    {
        var data = new byte[length];
        Random.Shared.NextBytes(data);
        return data;
    }

    private sealed class PushHosts : IAsyncDisposable
    {
        private PushHosts(List<(WebApplication App, PushBuffer Buffer)> hosts, RpcClient client)
        {
            Hosts = [.. hosts.Select(h => (Host)new(h.Buffer))];
            Apps = [.. hosts.Select(h => h.App)];
            Urls = [.. Apps.Select(a => a.BoundUrls()[0])];
            Client = client;
        }

        public IReadOnlyList<Host> Hosts { get; }

        public IReadOnlyList<Uri> Urls { get; }

        public RpcClient Client { get; }

        private IReadOnlyList<WebApplication> Apps { get; }

        public static async Task<PushHosts> StartAsync(int count)
        {
            var client = new RpcClient(new RpcClientOptions());
            var hosts = new List<(WebApplication, PushBuffer)>();
            for (var i = 0; i < count; i++)
            {
                var builder = WebApplication.CreateSlimBuilder();
                builder.Logging.ClearProviders();
                builder.AddGfsRpc(o => o.Urls = ["http://127.0.0.1:0"]);
                var app = builder.Build();
                var buffer = new PushBuffer(64L * MiB, TimeSpan.FromMinutes(1), TimeProvider.System);
                var identity = new ChunkserverIdentity { ServerId = $"s{i}" };
                new PushService(buffer, client, identity, NullLogger<PushService>.Instance).Map(app);
                app.UseGfsRpc();
                await app.StartAsync();
                identity.Url = app.BoundUrls()[0];
                hosts.Add((app, buffer));
            }

            return new PushHosts(hosts, client);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var app in Apps)
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }

            foreach (var host in Hosts)
            {
                host.Buffer.Dispose();
            }

            Client.Dispose();
        }
    }

    private sealed record Host(PushBuffer Buffer);
}
