using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Testing;

namespace Gfs.Node.Tests.Chunkserver;

/// <summary>
/// The chunk's serial lock on the primary: mutations queued behind it that find the lease or
/// version changed fail cleanly and release it once, and the queue behind it is bounded.
/// </summary>
public sealed class SerialLockTests
{
    private static readonly int[] All = [0, 1, 2];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AppendsQueuedBehindAGrantThatRaisesTheVersion_AreStale_AndTheLockStaysExclusive()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync();
        await cluster.GrantAsync(31, 1, All, create: true);
        var primary = cluster[0].Service;
        var state = await primary.Chunks.LockAsync(31, Ct);

        // Two appenders at version 1 queue behind the lock.
        var a = cluster.AppendInlineAsync(0, 31, 1, ChunkserverTestCluster.Random(1000, 1), clientId: 1, sequence: 1);
        var b = cluster.AppendInlineAsync(0, 31, 1, ChunkserverTestCluster.Random(1000, 2), clientId: 2, sequence: 1);
        await Retry.Until("two appends wait for the serial lock", () => state.Waiting == 2, TimeSpan.FromSeconds(20));

        // The lock holder re-grants at version 2, as a grant does under the lock (the secondaries follow).
        await primary.Store.SetVersionAsync(31, 2, Ct);
        var now = cluster.Time.GetTimestamp();
        primary.Chunks.GrantLease(state, 2, now, now + (60 * cluster.Time.TimestampFrequency));
        foreach (var secondary in new[] { 1, 2 })
        {
            await cluster.Client.CallAsync<GrantRequest, GrantReply>(cluster.Url(secondary), ChunkRoutes.Grant, new GrantRequest
            {
                Handle = 31,
                Version = 2,
                LeaseMs = 60_000,
                Replicas = [.. All.Select(cluster.Location)],
                ChunkSize = 64 << 20,
                Term = 1,
            });
        }

        // Two appenders at version 2 queue behind those.
        var records = new[] { ChunkserverTestCluster.Random(3000, 3), ChunkserverTestCluster.Random(4000, 4) };
        var c = cluster.AppendInlineAsync(0, 31, 2, records[0], clientId: 3, sequence: 1);
        await Retry.Until("three appends wait for the serial lock", () => state.Waiting == 3, TimeSpan.FromSeconds(20));
        var d = cluster.AppendInlineAsync(0, 31, 2, records[1], clientId: 4, sequence: 1);
        await Retry.Until("four appends wait for the serial lock", () => state.Waiting == 4, TimeSpan.FromSeconds(20));
        state.Serial.Release();

        Assert.Equal(ErrorCode.StaleVersion, (await ChunkserverTestCluster.Refused(() => a)).Code);
        Assert.Equal(ErrorCode.StaleVersion, (await ChunkserverTestCluster.Refused(() => b)).Code);
        var replies = new[] { await c, await d };
        Assert.All(replies, r => Assert.Empty(r.FailedReplicas));
        Assert.Equal([0L, records[0].Length], replies.Select(r => r.Offset)); // in queue order, one after the other

        byte[] expected = [.. records[0], .. records[1]];
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(expected, (await cluster.ReadAsync(i, 31, 2)).Data);
        }

        Assert.Equal(1, state.Serial.CurrentCount);
    }

    [Fact]
    public async Task WriteQueuedWhileTheLeaseExpires_IsRefusedLeaseExpired_AndTheLockIsReleasedOnce()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync();
        await cluster.GrantAsync(32, 1, All, create: true, leaseMs: 30_000);
        var primary = cluster[0].Service;
        var state = await primary.Chunks.LockAsync(32, Ct);
        var queued = cluster.WriteInlineAsync(0, 32, 1, 0, ChunkserverTestCluster.Random(5000, 5));
        await Retry.Until("the write waits for the serial lock", () => state.Waiting == 1, TimeSpan.FromSeconds(20));

        cluster.Time.Advance(TimeSpan.FromSeconds(31)); // the lease ends while the write waits
        state.Serial.Release();
        Assert.Equal(ErrorCode.LeaseExpired, (await ChunkserverTestCluster.Refused(() => queued)).Code);
        Assert.Equal(1, state.Serial.CurrentCount);

        // The next lease works, one mutation at a time.
        await cluster.GrantAsync(32, 2, All, create: false);
        var records = new[] { ChunkserverTestCluster.Random(700, 6), ChunkserverTestCluster.Random(900, 7) };
        var replies = await Task.WhenAll(records.Select((r, i) => cluster.AppendInlineAsync(0, 32, 2, r, clientId: 10 + i, sequence: 1)));
        Assert.All(replies, r => Assert.Empty(r.FailedReplicas));
        var atZero = replies[0].Offset == 0 ? 0 : 1;
        Assert.Equal(0, replies[atZero].Offset);
        Assert.Equal(records[atZero].Length, replies[1 - atZero].Offset);
        Assert.Equal(records.Sum(r => r.Length), (await cluster.InfoAsync(0, 32)).Length);
    }

    [Fact]
    public async Task MutationsBeyondTheWaitingLimit_AreRefusedBusy_AndTheQueuedOnesApply()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync(count: 1, configure: o => o.MaxWaitingMutations = 2);
        await cluster.GrantAsync(33, 1, [0], create: true);
        var primary = cluster[0].Service;
        var state = await primary.Chunks.LockAsync(33, Ct);
        var records = Enumerable.Range(0, 4).Select(i => ChunkserverTestCluster.Random(1000 + i, 10 + i)).ToArray();
        var first = cluster.AppendInlineAsync(0, 33, 1, records[0], clientId: 1, sequence: 1);
        await Retry.Until("an append waits for the serial lock", () => state.Waiting == 1, TimeSpan.FromSeconds(20));
        var second = cluster.AppendInlineAsync(0, 33, 1, records[1], clientId: 1, sequence: 2);
        await Retry.Until("two appends wait for the serial lock", () => state.Waiting == 2, TimeSpan.FromSeconds(20));

        // The third finds the queue full: Busy at once, nothing applied.
        Assert.Equal(ErrorCode.Busy, (await ChunkserverTestCluster.Refused(() => cluster.AppendInlineAsync(0, 33, 1, records[2], clientId: 1, sequence: 3))).Code);
        Assert.Equal(ErrorCode.Busy, (await ChunkserverTestCluster.Refused(() => cluster.WriteInlineAsync(0, 33, 1, 0, records[2]))).Code);
        Assert.Equal(2, state.Waiting);

        state.Serial.Release();
        var replies = new[] { await first, await second };
        Assert.Equal([0L, records[0].Length], replies.Select(r => r.Offset));
        Assert.Equal(0, state.Waiting);

        // Room again: the refused record goes through on its retry.
        var retried = await cluster.AppendInlineAsync(0, 33, 1, records[2], clientId: 1, sequence: 3);
        Assert.Equal(records[0].Length + records[1].Length, retried.Offset);
        Assert.Equal((byte[])[.. records[0], .. records[1], .. records[2]], (await cluster.ReadAsync(0, 33, 1)).Data);
    }
}
