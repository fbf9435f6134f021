using System.Diagnostics;
using System.Security.Cryptography;
using Gfs.Client;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Transport;
using Gfs.Testing;

namespace Gfs.IntegrationTests;

/// <summary>
/// One chunkserver lost at a time, on a cluster that keeps enough servers for the replication goal:
/// writes and record appends ride through and lose nothing. The cluster runs the product's defaults
/// (60 s leases, dead after 10 s, 30 s client operation timeout).
/// </summary>
public sealed class ChunkserverFaultTests(ITestOutputHelper output)
{
    private const int MiB = 1 << 20;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_write_rides_through_the_kill_of_a_replica_of_the_chunk_being_written(bool primary)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await GfsCluster.StartAsync(4);
        await using var client = new GfsClient(cluster.ClientOptions);
        var data = FileSystemTests.RandomBytes(96 * MiB, seed: primary ? 21 : 22);
        const int chunkSize = 16 * MiB;

        await using var writer = await client.CreateAsync("/put.bin", new GfsCreateOptions { ChunkSize = chunkSize }, ct);
        var at = 0;
        while (writer.Acknowledged < 24 * MiB)
        {
            await writer.WriteAsync(data.AsMemory(at, MiB), ct);
            at += MiB;
        }

        // Kill a holder of the chunk being written now: its primary (the replica holding a lease) or a secondary.
        var index = (int)(writer.Acknowledged / chunkSize);
        var victim = await HolderAsync(cluster, client, "/put.bin", index, primary);
        var killedAt = Stopwatch.GetTimestamp();
        cluster.KillChunkserver(victim);

        while (at < data.Length)
        {
            await writer.WriteAsync(data.AsMemory(at, MiB), ct);
            at += MiB;
        }

        await writer.DisposeAsync();
        output.WriteLine($"{(primary ? "primary" : "secondary")} killed at {index * chunkSize / MiB} MiB; the write finished {Stopwatch.GetElapsedTime(killedAt).TotalSeconds:0.0} s after the kill");

        Assert.Equal(data.Length, (await client.StatAsync("/put.bin", ct)).Size);
        await using var fresh = new GfsClient(cluster.ClientOptions);
        await using var reader = await fresh.OpenReadAsync("/put.bin", ct);
        Assert.Equal(SHA256.HashData(data), await SHA256.HashDataAsync(reader, ct));
    }

    [Fact]
    public async Task Appenders_ride_through_the_holders_of_the_last_chunk_killed_and_restarted_in_turn()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await GfsCluster.StartAsync(4);
        await using var client = new GfsClient(cluster.ClientOptions);
        const int chunkSize = 4 * MiB;
        await (await client.CreateAsync("/events", new GfsCreateOptions { ChunkSize = chunkSize }, ct)).DisposeAsync();

        var appenders = new RecordLog.Appenders(cluster.ClientOptions, "/events", count: 8, maxPayload: 4_000);
        appenders.Start();
        await appenders.ProgressAsync(100, TimeSpan.FromSeconds(60));

        // Each holder of the file's last chunk in turn: SIGKILL, 3 s down, restart; the others stay up.
        for (var round = 0; round < 3; round++)
        {
            var victim = -1;
            await Retry.Until("the last chunk has an up-to-date replica", async () =>
            {
                var last = (await FileSystemFaultTests.ChunksAsync(client, "/events"))[^1];
                victim = last.Replicas.Count > 0 ? cluster.ChunkserverIndex(last.Replicas[round % last.Replicas.Count].ServerId) : -1;
                return victim >= 0;
            }, TimeSpan.FromSeconds(60));
            cluster.KillChunkserver(victim);
            await Task.Delay(TimeSpan.FromSeconds(3), ct); // the fault's length, not a wait for a condition
            cluster.LaunchChunkserver(victim);
            await cluster.WaitChunkserverReadyAsync(victim);
            await appenders.ProgressAsync(100, TimeSpan.FromSeconds(90));
        }

        await appenders.StopAsync();
        output.WriteLine($"{appenders.Acknowledged.Count} records acknowledged; the longest single append took {appenders.LongestAppend.TotalSeconds:0.0} s");
        Assert.True(appenders.Failures.IsEmpty, string.Join("\n", appenders.Failures.Select(f => f.Message)));

        var log = await RecordLog.ReadAllAsync(cluster.ClientOptions, "/events", ct);
        RecordLog.AssertExactlyOnce(log, chunkSize, appenders.Acknowledged, appenders.Attempted.Keys.ToHashSet());
        var fewest = await RecordLog.AssertReplicasAgreeAsync(client, "/events", chunkSize, appenders.Acknowledged, ct);
        output.WriteLine($"every chunk has at least {fewest} up-to-date replica(s), all holding the same acknowledged records");
    }

    /// <summary>Index of a chunkserver holding chunk <paramref name="index"/>: the primary (the one holding its lease) or a secondary.</summary>
    internal static async Task<int> HolderAsync(GfsCluster cluster, GfsClient client, string path, int index, bool primary)
    {
        var found = -1;
        await Retry.Until($"chunk {index} of {path} has a {(primary ? "primary" : "secondary")}", async () =>
        {
            var chunks = await FileSystemFaultTests.ChunksAsync(client, path);
            if (chunks.Count <= index)
            {
                return false;
            }

            using var rpc = new RpcClient(new RpcClientOptions());
            foreach (var replica in chunks[index].Replicas)
            {
                var info = await rpc.CallAsync<ChunkInfoRequest, ChunkInfoReply>(new Uri(replica.Url), ChunkRoutes.Info, new ChunkInfoRequest { Handle = chunks[index].Handle });
                if ((info.LeaseRemainingMs > 0) == primary)
                {
                    found = cluster.ChunkserverIndex(replica.ServerId);
                    return true;
                }
            }

            return false;
        }, TimeSpan.FromSeconds(30));
        return found;
    }
}
