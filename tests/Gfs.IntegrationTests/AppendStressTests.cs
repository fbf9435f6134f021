using Gfs.Client;
using Gfs.Testing;

namespace Gfs.IntegrationTests;

/// <summary>
/// Eight appenders share one file while, on a seeded schedule, the primary of its last chunk is
/// SIGKILLed and restarted and then a secondary is SIGSTOPped past the primary's call timeout and
/// resumed. Every acknowledged record must be in the file exactly once, at the offset it was
/// acknowledged at, on every up-to-date replica; the file must keep taking appends after each fault.
/// </summary>
public sealed class AppendStressTests(ITestOutputHelper output)
{
    private const int MiB = 1 << 20;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Appenders_ride_through_a_killed_primary_and_a_paused_secondary(int seed)
    {
        var ct = TestContext.Current.CancellationToken;
        var random = new Random(seed);
        await using var cluster = await GfsCluster.StartAsync(4);
        await using var client = new GfsClient(cluster.ClientOptions);
        const int chunkSize = 2 * MiB;
        await (await client.CreateAsync("/stress", new GfsCreateOptions { ChunkSize = chunkSize }, ct)).DisposeAsync();

        var appenders = new RecordLog.Appenders(cluster.ClientOptions, "/stress", count: 8, maxPayload: 8_000);
        appenders.Start();
        await appenders.ProgressAsync(50 + random.Next(200), TimeSpan.FromSeconds(60));

        // The last chunk's primary: SIGKILL, down for 1-4 s, restart.
        var chunks = await FileSystemFaultTests.ChunksAsync(client, "/stress");
        var primary = await ChunkserverFaultTests.HolderAsync(cluster, client, "/stress", chunks.Count - 1, primary: true);
        cluster.KillChunkserver(primary);
        await Task.Delay(TimeSpan.FromMilliseconds(1000 + random.Next(3000)), ct); // the fault's length
        cluster.LaunchChunkserver(primary);
        await cluster.WaitChunkserverReadyAsync(primary);
        await appenders.ProgressAsync(100, TimeSpan.FromSeconds(90));
        var afterKill = appenders.LongestAppend;

        // A secondary of the last chunk: SIGSTOP past the primary's 10 s apply budget, then SIGCONT.
        chunks = await FileSystemFaultTests.ChunksAsync(client, "/stress");
        var secondary = await ChunkserverFaultTests.HolderAsync(cluster, client, "/stress", chunks.Count - 1, primary: false);
        cluster.PauseChunkserver(secondary);
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(12 + random.Next(3)), ct); // the fault's length
        }
        finally
        {
            cluster.ResumeChunkserver(secondary);
        }

        await appenders.ProgressAsync(100, TimeSpan.FromSeconds(90));
        await appenders.StopAsync();
        output.WriteLine($"seed {seed}: {appenders.Acknowledged.Count} records acknowledged; longest single append: {afterKill.TotalSeconds:0.0} s around the primary's kill, {appenders.LongestAppend.TotalSeconds:0.0} s overall");
        Assert.True(appenders.Failures.IsEmpty, string.Join("\n", appenders.Failures.Select(f => f.Message)));

        var log = await RecordLog.ReadAllAsync(cluster.ClientOptions, "/stress", ct);
        RecordLog.AssertExactlyOnce(log, chunkSize, appenders.Acknowledged, appenders.Attempted.Keys.ToHashSet());
        var fewest = await RecordLog.AssertReplicasAgreeAsync(client, "/stress", chunkSize, appenders.Acknowledged, ct);
        output.WriteLine($"every chunk has at least {fewest} up-to-date replica(s), all holding the same acknowledged records");
    }
}
