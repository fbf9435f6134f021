using System.Buffers;
using System.IO.Hashing;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Transport;
using Gfs.Node.Chunkserver;
using Gfs.Testing;
using Microsoft.Extensions.Logging;

namespace Gfs.Node.Tests.Chunkserver;

/// <summary>
/// N chunkservers hosted in the test process on loopback, with real stores in temp directories.
/// The test plays the master: it sends chunk/Grant itself. Heartbeats go to <see cref="Masters"/>
/// (by default an unused port, so they fail harmlessly).
/// </summary>
internal sealed class ChunkserverTestCluster : IAsyncDisposable
{
    private readonly TempDirectory directory = new("gfs-cs");
    private readonly Action<ChunkserverOptions>? configure;
    private readonly ChunkserverHost?[] hosts;

    private ChunkserverTestCluster(int count, IReadOnlyList<Uri> masters, Action<ChunkserverOptions>? configure)
    {
        hosts = new ChunkserverHost?[count];
        Masters = masters;
        this.configure = configure;
    }

    public ShiftableTime Time { get; } = new();

    public RpcClient Client { get; } = new(new RpcClientOptions { DefaultTimeout = TimeSpan.FromSeconds(20) });

    public IReadOnlyList<Uri> Masters { get; }

    public ChunkserverHost this[int index] => hosts[index] ?? throw new InvalidOperationException($"chunkserver {index} is stopped");

    public int Count => hosts.Length;

    public static async Task<ChunkserverTestCluster> StartAsync(int count = 3, IReadOnlyList<Uri>? masters = null, Action<ChunkserverOptions>? configure = null, bool background = true)
    {
        var cluster = new ChunkserverTestCluster(count, masters ?? [new Uri($"http://127.0.0.1:{FreePort.Next()}")], configure);
        try
        {
            for (var i = 0; i < count; i++)
            {
                await cluster.StartAsync(i, background);
            }
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    public string DataDirectory(int index) => directory.Combine($"cs{index}");

    /// <summary>Starts chunkserver <paramref name="index"/> on its data directory; <paramref name="listen"/> keeps a restarted server's URL.</summary>
    public async Task StartAsync(int index, bool background = true, string listen = "http://127.0.0.1:0")
    {
        var options = new ChunkserverOptions
        {
            Masters = [.. Masters],
            DataDirectory = DataDirectory(index),
            Rack = $"r{index}",
            BufferBytes = 256L << 20,
            HeartbeatInterval = TimeSpan.FromMilliseconds(200),
            PeerCallTimeout = TimeSpan.FromSeconds(5),
            FenceReadsUntilChecked = false, // the test plays the master
        };
        configure?.Invoke(options);
        var host = await ChunkserverHost.StartAsync(options, listen, null, null, b => b.Logging.ClearProviders(), Time);
        if (background)
        {
            host.StartBackground();
        }

        hosts[index] = host;
    }

    public async Task StopAsync(int index)
    {
        if (hosts[index] is { } host)
        {
            hosts[index] = null;
            await host.DisposeAsync();
        }
    }

    /// <summary>Stops chunkserver <paramref name="index"/> and starts it again on the same data directory and URL (as a restarted process would).</summary>
    public async Task RestartAsync(int index)
    {
        var url = this[index].Url;
        await StopAsync(index);
        await StartAsync(index, listen: url);
    }

    public Uri Url(int index) => new(this[index].Url);

    public ReplicaLocation Location(int index) => new() { ServerId = this[index].ServerId, Url = this[index].Url, Rack = $"r{index}" };

    /// <summary>Grants the chunk on every listed server (the primary first), as the leader would.</summary>
    public async Task GrantAsync(long handle, long version, int[] replicas, bool create, long leaseMs = 60_000, int chunkSize = 64 << 20, long term = 1)
    {
        var locations = replicas.Select(Location).ToList();
        for (var i = 0; i < replicas.Length; i++)
        {
            await Client.CallAsync<GrantRequest, GrantReply>(Url(replicas[i]), ChunkRoutes.Grant, new GrantRequest
            {
                Handle = handle,
                Version = version,
                Create = create,
                Primary = i == 0,
                LeaseMs = leaseMs,
                Replicas = locations,
                ChunkSize = chunkSize,
                Term = term,
            });
        }
    }

    public static uint Crc(ReadOnlySpan<byte> data) => Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data);

    /// <summary>Pushes <paramref name="data"/> to the first of <paramref name="chain"/>, which forwards to the rest.</summary>
    public Task<PushReply> PushAsync(string dataId, byte[] data, int[] chain, uint? crc = null, TimeSpan? timeout = null)
        => Client.UploadAsync<PushHeader, PushReply>(
            Url(chain[0]),
            ChunkRoutes.Push,
            new PushHeader { DataId = dataId, Length = data.Length, Crc32C = crc ?? Crc(data), Chain = [.. chain.Skip(1).Select(i => this[i].Url)] },
            data,
            timeout);

    public Task<WriteReply> WriteAsync(int primary, long handle, long version, long offset, string dataId, long length)
        => Client.CallAsync<WriteRequest, WriteReply>(Url(primary), ChunkRoutes.Write, new WriteRequest { Handle = handle, Version = version, Offset = offset, DataId = dataId, Length = length });

    /// <summary>A write that carries its bytes inline (no push); <paramref name="crc"/> overrides the right CRC32C.</summary>
    public Task<WriteReply> WriteInlineAsync(int primary, long handle, long version, long offset, byte[] data, uint? crc = null)
        => Client.CallAsync<WriteRequest, WriteReply>(Url(primary), ChunkRoutes.Write, new WriteRequest
        {
            Handle = handle,
            Version = version,
            Offset = offset,
            Length = data.Length,
            Data = data,
            Crc32C = crc ?? System.IO.Hashing.Crc32.HashToUInt32(System.IO.Hashing.Crc32ParameterSet.Crc32C, data),
        });

    /// <summary>A record append that carries the record inline (no push).</summary>
    public Task<AppendReply> AppendInlineAsync(int primary, long handle, long version, byte[] record, long clientId, long sequence)
        => Client.CallAsync<AppendRequest, AppendReply>(Url(primary), ChunkRoutes.Append, new AppendRequest
        {
            Handle = handle,
            Version = version,
            Length = record.Length,
            ClientId = clientId,
            Sequence = sequence,
            Data = record,
            Crc32C = System.IO.Hashing.Crc32.HashToUInt32(System.IO.Hashing.Crc32ParameterSet.Crc32C, record),
        });

    public Task<AppendReply> AppendAsync(int primary, long handle, long version, string dataId, long length, long clientId, long sequence)
        => Client.CallAsync<AppendRequest, AppendReply>(Url(primary), ChunkRoutes.Append, new AppendRequest { Handle = handle, Version = version, DataId = dataId, Length = length, ClientId = clientId, Sequence = sequence });

    public Task<ChunkInfoReply> InfoAsync(int index, long handle)
        => Client.CallAsync<ChunkInfoRequest, ChunkInfoReply>(Url(index), ChunkRoutes.Info, new ChunkInfoRequest { Handle = handle });

    /// <summary>Reads [offset, offset+length) of a chunk from one server.</summary>
    public async Task<(ReadHeader Header, byte[] Data)> ReadAsync(int index, long handle, long version, long offset = 0, long length = 64 << 20)
    {
        await using var download = await Client.DownloadAsync<ReadRequest, ReadHeader>(Url(index), ChunkRoutes.Read, new ReadRequest { Handle = handle, Version = version, Offset = offset, Length = length });
        var buffer = new ArrayBufferWriter<byte>();
        await download.CopyToAsync(
            (segment, _) =>
            {
                foreach (var memory in segment)
                {
                    buffer.Write(memory.Span);
                }

                return ValueTask.CompletedTask;
            },
            CancellationToken.None);
        return (download.Header, buffer.WrittenSpan.ToArray());
    }

    public static byte[] Random(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    public static async Task<GfsException> Refused(Func<Task> call)
        => await Assert.ThrowsAsync<GfsException>(call);

    public async ValueTask DisposeAsync()
    {
        for (var i = 0; i < hosts.Length; i++)
        {
            await StopAsync(i);
        }

        Client.Dispose();
        directory.Dispose();
    }
}
