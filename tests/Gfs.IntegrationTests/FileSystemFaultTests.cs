using System.Security.Cryptography;
using Gfs.Client;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Transport;
using Gfs.Testing;

namespace Gfs.IntegrationTests;

/// <summary>Chunkservers killed during reads and writes; a stale replica restarted after missing a mutation.</summary>
public sealed class FileSystemFaultTests
{
    private const int MiB = 1 << 20;

    [Fact]
    public async Task A_read_goes_on_while_a_replica_s_chunkserver_is_killed()
    {
        var ct = TestContext.Current.CancellationToken;

        // Each chunkserver on its own loopback address: a client on one of them has that server
        // nearest, and a reader tries the nearest replica first. Masters keep a killed server live
        // for 60 s, so they go on listing it first: the reader meets the dead server, not a list
        // that already left it out.
        await using var cluster = await GfsCluster.StartAsync(4, masterArguments: ["--lease-seconds", "10", "--dead-after-seconds", "60"], chunkserverHost: i => $"127.0.0.{i + 1}");
        await using var writer = new GfsClient(cluster.ClientOptions);
        var data = FileSystemTests.RandomBytes(24 * MiB, seed: 7);
        await FileSystemTests.WriteFileAsync(writer, "/r.bin", data, MiB, new GfsCreateOptions { ChunkSize = 4 * MiB });

        // The victim is the server with the most replicas of the file; the reader runs on its host.
        var chunks = await ChunksAsync(writer, "/r.bin");
        var victimId = chunks.SelectMany(c => c.Replicas).GroupBy(r => r.ServerId).OrderByDescending(g => g.Count()).First().Key;
        var victim = cluster.ChunkserverIndex(victimId);
        var host = cluster.ChunkserverUrls[victim].Host;
        await using var client = new GfsClient(cluster.ClientOptions with { ClientHost = host });

        // Open the stream (no piece is requested before the first read), and check that for each
        // chunk it holds the victim is the replica this reader is given first.
        await using var reader = await client.OpenReadAsync("/r.bin", ct);
        var seen = await ChunksAsync(client, "/r.bin", host);
        var first = seen.Where(c => c.Replicas.Any(r => r.ServerId == victimId)).ToList();
        Assert.True(first.Count >= 2, $"the victim holds {first.Count} of {seen.Count} chunks");
        Assert.All(first, c => Assert.Equal(victimId, c.Replicas[0].ServerId));

        // Killed before any piece is fetched: every one of those chunks is read by failing over.
        cluster.KillChunkserver(victim);
        var copy = new byte[data.Length];
        await reader.ReadExactlyAsync(copy, ct);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(copy));

        // A fresh reader with nothing cached reads everything too.
        await using var again = await client.OpenReadAsync("/r.bin", ct);
        Assert.Equal(SHA256.HashData(data), await SHA256.HashDataAsync(again, ct));
    }

    [Fact]
    public async Task A_write_while_a_secondary_is_killed_succeeds_or_fails_typed_never_short()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await GfsCluster.StartAsync(4);
        await using var client = new GfsClient(cluster.ClientOptions);
        var data = FileSystemTests.RandomBytes(12 * MiB, seed: 8);

        var writer = await client.CreateAsync("/w.bin", new GfsCreateOptions { ChunkSize = 4 * MiB }, ct);
        await writer.WriteAsync(data.AsMemory(0, 2 * MiB), ct);
        await writer.FlushAsync(ct);

        var secondary = await SecondaryOfAsync(cluster, client, "/w.bin", index: 0);
        cluster.KillChunkserver(secondary);

        GfsException? failure = null;
        try
        {
            await writer.WriteAsync(data.AsMemory(2 * MiB), ct);
            await writer.DisposeAsync();
        }
        catch (GfsException e)
        {
            failure = e;
        }

        var stat = await client.StatAsync("/w.bin", ct);
        await using var reader = await client.OpenReadAsync("/w.bin", ct);
        var back = new byte[reader.Length];
        await reader.ReadExactlyAsync(back, ct);
        if (failure is null)
        {
            Assert.Equal(data.Length, stat.Size);
            Assert.Equal(SHA256.HashData(data), SHA256.HashData(back));
        }
        else
        {
            // Everything the writer had acknowledged is there and correct; nothing claims to be more.
            Assert.True(back.Length >= writer.Acknowledged, $"{back.Length} bytes readable, {writer.Acknowledged} acknowledged");
            Assert.True(data.AsSpan(0, (int)writer.Acknowledged).SequenceEqual(back.AsSpan(0, (int)writer.Acknowledged)));
        }
    }

    [Fact]
    public async Task A_stale_replica_restarted_after_missing_a_mutation_is_never_served()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await GfsCluster.StartAsync(4);
        await using var client = new GfsClient(cluster.ClientOptions);
        var first = FileSystemTests.RandomBytes(MiB, seed: 9);
        var second = FileSystemTests.RandomBytes(MiB, seed: 10);
        await FileSystemTests.WriteFileAsync(client, "/s.bin", first, MiB);

        var secondary = await SecondaryOfAsync(cluster, client, "/s.bin", index: 0);
        var staleId = cluster.ChunkserverIds[secondary];
        var before = (await ChunksAsync(client, "/s.bin"))[0];
        cluster.KillChunkserver(secondary);

        // The second mutation goes to the chunk while the secondary is down: it misses it.
        await using (var writer = await client.OpenWriteAsync("/s.bin", ct))
        {
            await writer.WriteAsync(second, ct);
        }

        await cluster.RestartChunkserverAsync(secondary);
        await cluster.WaitChunkserversKnownAsync(4);

        var after = (await ChunksAsync(client, "/s.bin"))[0];
        Assert.True(after.Version > before.Version, $"version {after.Version} after the missed mutation, {before.Version} before");
        Assert.DoesNotContain(after.Replicas, r => r.ServerId == staleId);

        // The stale replica itself refuses the current version.
        using (var rpc = new RpcClient(new RpcClientOptions()))
        {
            var refused = await Assert.ThrowsAsync<GfsException>(async () =>
            {
                await using var read = await rpc.DownloadAsync<ReadRequest, ReadHeader>(
                    cluster.ChunkserverUrls[secondary], ChunkRoutes.Read, new ReadRequest { Handle = after.Handle, Version = after.Version, Offset = 0, Length = MiB }, cancellationToken: ct);
            });
            Assert.True(refused.Code is ErrorCode.StaleVersion or ErrorCode.NotFound, $"got {refused.Code}");
        }

        // Fresh clients, many times: always both mutations.
        var expected = first.Concat(second).ToArray();
        for (var i = 0; i < 10; i++)
        {
            await using var fresh = new GfsClient(cluster.ClientOptions);
            await using var reader = await fresh.OpenReadAsync("/s.bin", ct);
            Assert.Equal(SHA256.HashData(expected), await SHA256.HashDataAsync(reader, ct));
        }

        // The leader orders the stale replica deleted.
        await Retry.Until("the stale replica is deleted", async () =>
        {
            using var rpc = new RpcClient(new RpcClientOptions());
            try
            {
                await rpc.CallAsync<ChunkInfoRequest, ChunkInfoReply>(cluster.ChunkserverUrls[secondary], ChunkRoutes.Info, new ChunkInfoRequest { Handle = after.Handle }, cancellationToken: ct);
                return false;
            }
            catch (GfsException e) when (e.Code == ErrorCode.NotFound)
            {
                return true;
            }
        }, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(250));
    }

    internal static async Task<List<ChunkLocation>> ChunksAsync(GfsClient client, string path, string? clientHost = null)
    {
        var reply = await client.Master.CallLeaderAsync<GetChunksRequest, GetChunksReply>(
            ChunkRoutes.GetChunks, new GetChunksRequest { Path = System.Text.Encoding.UTF8.GetBytes(path), ClientHost = clientHost ?? "" });
        return reply.Chunks;
    }

    /// <summary>Index of a chunkserver that holds a replica of chunk <paramref name="index"/> without being its primary.</summary>
    private static async Task<int> SecondaryOfAsync(GfsCluster cluster, GfsClient client, string path, int index)
    {
        var chunk = (await ChunksAsync(client, path))[index];
        using var rpc = new RpcClient(new RpcClientOptions());
        foreach (var replica in chunk.Replicas)
        {
            var status = await rpc.CallAsync<Empty, ChunkserverStatus>(new Uri(replica.Url), ChunkRoutes.Status, Empty.Instance);
            if (status.Leases == 0)
            {
                return cluster.ChunkserverIndex(replica.ServerId);
            }
        }

        throw new InvalidOperationException($"every replica of {path}#{index} holds a lease");
    }
}
