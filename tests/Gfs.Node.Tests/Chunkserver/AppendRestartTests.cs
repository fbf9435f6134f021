namespace Gfs.Node.Tests.Chunkserver;

/// <summary>
/// Exactly-once record append across chunkserver restarts: the (client, sequence) → offset table
/// is kept with the data, so a restarted replica still knows where a retried record went.
/// </summary>
public sealed class AppendRestartTests
{
    private static readonly int[] All = [0, 1, 2];

    [Fact]
    public async Task AppendRetriedAfterASecondaryRestarted_IsReplayedAtItsFirstOffset_AndTheSecondaryStays()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync();
        await cluster.GrantAsync(41, 1, All, create: true);
        var records = Enumerable.Range(0, 3).Select(i => ChunkserverTestCluster.Random(2000 + i, 40 + i)).ToArray();
        var first = await cluster.AppendInlineAsync(0, 41, 1, records[0], clientId: 7, sequence: 1);
        var second = await cluster.AppendInlineAsync(0, 41, 1, records[1], clientId: 7, sequence: 2);
        Assert.Empty(first.FailedReplicas);
        Assert.Empty(second.FailedReplicas);

        await cluster.RestartAsync(2);

        // The client did not hear the first answer and retries: the primary re-sends the Apply to every secondary.
        var retry = await cluster.AppendInlineAsync(0, 41, 1, records[0], clientId: 7, sequence: 1);
        Assert.True(retry.Replayed);
        Assert.Equal(0, retry.Offset);
        Assert.Empty(retry.FailedReplicas);

        // The restarted secondary is still in the replica set: later appends reach it.
        var third = await cluster.AppendInlineAsync(0, 41, 1, records[2], clientId: 7, sequence: 3);
        Assert.Empty(third.FailedReplicas);
        Assert.Equal(records[0].Length + records[1].Length, third.Offset);
        byte[] expected = [.. records[0], .. records[1], .. records[2]];
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(expected, (await cluster.ReadAsync(i, 41, 1)).Data);
        }
    }

    [Fact]
    public async Task AppendRetriedAfterThePrimaryRestarted_IsOnEveryReplicaOnce_AtItsFirstOffset()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync();
        await cluster.GrantAsync(42, 1, All, create: true);
        var before = ChunkserverTestCluster.Random(1500, 50);
        Assert.Empty((await cluster.AppendInlineAsync(0, 42, 1, before, clientId: 8, sequence: 1)).FailedReplicas);

        // A secondary is down: the primary applies the record and answers with the failed replica.
        var down = cluster[2].ServerId;
        await cluster.StopAsync(2);
        var record = ChunkserverTestCluster.Random(2500, 51);
        var failed = await cluster.AppendInlineAsync(0, 42, 1, record, clientId: 8, sequence: 2);
        Assert.Equal([down], failed.FailedReplicas);
        Assert.Equal(before.Length, failed.Offset);

        // The primary restarts before the client retries; the master re-grants without the failed replica.
        await cluster.RestartAsync(0);
        await cluster.GrantAsync(42, 2, [0, 1], create: false);
        var retry = await cluster.AppendInlineAsync(0, 42, 2, record, clientId: 8, sequence: 2);
        Assert.True(retry.Replayed);
        Assert.Equal(before.Length, retry.Offset);
        Assert.Empty(retry.FailedReplicas);

        byte[] expected = [.. before, .. record];
        foreach (var replica in new[] { 0, 1 })
        {
            var (header, data) = await cluster.ReadAsync(replica, 42, 2);
            Assert.Equal(expected.Length, header.ChunkLength);
            Assert.Equal(expected, data);
        }
    }
}
