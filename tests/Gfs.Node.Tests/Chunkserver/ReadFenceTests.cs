using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Testing;

namespace Gfs.Node.Tests.Chunkserver;

/// <summary>
/// A chunkserver that (re)started serves no reads until the leader has checked its replicas, and
/// never reads a replica the leader fenced as stale: a replica that missed mutations while it was
/// down is not read in the moments before its delete order arrives.
/// </summary>
public class ReadFenceTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ReadsWait_ForTheLeadersCheck_AndAFencedReplicaIsNeverRead()
    {
        await using var master = await FakeMaster.StartAsync();
        master.OnHeartbeat(_ => new HeartbeatReply { IsLeader = true }); // a leader that has not checked this server yet
        await using var cluster = await ChunkserverTestCluster.StartAsync(count: 1, masters: [master.Url], configure: o => o.FenceReadsUntilChecked = true);
        await cluster.GrantAsync(71, 1, [0], create: true);
        var data = ChunkserverTestCluster.Random(5000, 3);
        await cluster.PushAsync("f1", data, [0]);
        await cluster.WriteAsync(0, 71, 1, 0, "f1", data.Length);

        Assert.Equal(ErrorCode.Unavailable, (await ChunkserverTestCluster.Refused(() => cluster.ReadAsync(0, 71, 1))).Code);
        Assert.Equal(ErrorCode.Unavailable, (await ChunkserverTestCluster.Refused(() => cluster.InfoAsync(0, 71))).Code);

        // The leader's check arrives: it fences chunk 72 (stale here) and leaves 71 alone.
        await cluster.GrantAsync(72, 1, [0], create: true);
        var check = master.Once(_ => true, new HeartbeatReply { IsLeader = true, Scanned = true, Orders = [new ChunkOrder { Kind = ChunkOrderKind.Fence, Handle = 72, Version = 1 }] });
        await check.WaitAsync(Patience);
        await Retry.Until("reads are served", () => cluster[0].Service.ReadsAllowed, Patience);

        var (_, back) = await cluster.ReadAsync(0, 71, 1);
        Assert.Equal(data, back);
        Assert.Equal(ErrorCode.StaleVersion, (await ChunkserverTestCluster.Refused(() => cluster.ReadAsync(0, 72, 1))).Code);
        Assert.Equal(ErrorCode.StaleVersion, (await ChunkserverTestCluster.Refused(() => cluster.InfoAsync(0, 72))).Code);
        Assert.NotNull(cluster[0].Service.Store.GetChunk(72)); // fenced, not deleted

        // A later grant at a newer version lifts the fence.
        await cluster.GrantAsync(72, 2, [0], create: false);
        Assert.Equal(2, (await cluster.InfoAsync(0, 72)).Version);
    }
}
