using Gfs.Client.Protocol.Chunk;
using Gfs.Testing;

namespace Gfs.Node.Tests.Chunkserver;

/// <summary>A chunkserver obeys only leaders at least as new as any it has heard from.</summary>
public class LeaderTermTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ADeposedLeader_CannotRevokeALeaseOfANewerTerm_NorOrderADelete_WhileTheCurrentLeaderCan()
    {
        await using var master = await FakeMaster.StartAsync();
        await using var cluster = await ChunkserverTestCluster.StartAsync(count: 1, masters: [master.Url]);
        await cluster.GrantAsync(61, 1, [0], create: true, leaseMs: 120_000, term: 7);
        await cluster.GrantAsync(62, 1, [0], create: true, leaseMs: 120_000, term: 7);
        var state = cluster[0].Service.Chunks.Find(61)!;

        // A leader of term 6 that has not noticed it was deposed: its state predates the grants above.
        master.OnHeartbeat(_ => new HeartbeatReply
        {
            IsLeader = true,
            Term = 6,
            Revoked = [61],
            Orders = [new ChunkOrder { Kind = ChunkOrderKind.Delete, Handle = 62 }],
        });
        var seen = master.Received.Count;
        await Retry.Until("three heartbeats were answered by the old leader", () => master.Received.Count >= seen + 3, Patience);

        Assert.NotEqual(0, state.LiveLease(cluster.Time.GetTimestamp()));
        Assert.NotNull(cluster[0].Service.Store.GetChunk(62));
        Assert.Equal(7, cluster[0].Service.HighestTerm);

        // The leader of term 7 is obeyed.
        master.OnHeartbeat(_ => new HeartbeatReply
        {
            IsLeader = true,
            Term = 7,
            Revoked = [61],
            Orders = [new ChunkOrder { Kind = ChunkOrderKind.Delete, Handle = 62 }],
        });
        await Retry.Until("the lease on 61 is revoked", () => state.LiveLease(cluster.Time.GetTimestamp()) == 0, Patience);
        await Retry.Until("chunk 62 is deleted", () => cluster[0].Service.Store.GetChunk(62) is null, Patience);
    }
}
