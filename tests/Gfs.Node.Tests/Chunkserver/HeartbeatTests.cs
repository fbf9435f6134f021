using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Testing;

namespace Gfs.Node.Tests.Chunkserver;

public sealed class HeartbeatTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Heartbeats_GoToEveryMaster_FullFirstThenIncremental_EvenWhenOneMasterIsDown()
    {
        await using var a = await FakeMaster.StartAsync();
        await using var b = await FakeMaster.StartAsync();
        var dead = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        await using var cluster = await ChunkserverTestCluster.StartAsync(count: 1, masters: [a.Url, dead, b.Url]);
        var id = cluster[0].ServerId;

        await Retry.Until("both live masters got a heartbeat", () => !a.Received.IsEmpty && !b.Received.IsEmpty, Patience);
        foreach (var master in new[] { a, b })
        {
            Assert.True(master.Received.TryPeek(out var first));
            Assert.True(first.FullReport);
            Assert.Equal(id, first.ServerId);
            Assert.Equal(cluster[0].Url, first.Url);
            Assert.Equal("r0", first.Rack);
            Assert.True(first.CapacityBytes > 0 && first.FreeBytes > 0);
            Assert.True(first.StartedUnixMs > 0);
        }

        // A new chunk shows up as a change (not a full report), with its lease, at each master.
        await cluster.GrantAsync(31, 3, [0], create: true, leaseMs: 60_000);
        foreach (var master in new[] { a, b })
        {
            await Retry.Until("an incremental report names chunk 31", () => master.Received.Any(h => !h.FullReport && h.Changed.Any(c => c.Handle == 31 && c.Version == 3)), Patience);
            await Retry.Until("the lease on chunk 31 is reported", () => master.Received.Any(h => h.Leases.Any(l => l.Handle == 31 && l.Version == 3 && l.RemainingMs is > 0 and <= 60_000)), Patience);
        }

        // The master asks for a full report: it gets one with the chunk in it.
        _ = a.Once(_ => true, new HeartbeatReply { IsLeader = true, SendFullReport = true });
        await Retry.Until("a full report with chunk 31", () => a.Received.Any(h => h.FullReport && h.Chunks.Any(c => c.Handle == 31 && c.Version == 3)), Patience);
        Assert.True(cluster[0].Worker.Leader is not null);
    }

    [Fact]
    public async Task AMasterDownPastTheFullReportInterval_NoLongerHoldsBackChanges_AndGetsAFullReportWhenBack()
    {
        await using var live = await FakeMaster.StartAsync();
        var port = FreePort.Next();
        var leaving = await FakeMaster.StartAsync(port);
        await using var cluster = await ChunkserverTestCluster.StartAsync(count: 1, masters: [live.Url, leaving.Url], configure: o => o.FullReportInterval = TimeSpan.FromSeconds(10));
        var table = cluster[0].Service.Chunks;
        await Retry.Until("both masters got their full report", () => live.Received.Any(h => h.FullReport) && leaving.Received.Any(h => h.FullReport), Patience);
        await leaving.DisposeAsync();

        for (var handle = 100L; handle < 110; handle++)
        {
            await cluster.GrantAsync(handle, 1, [0], create: true);
        }

        // Kept while the master that left would still get an incremental report...
        await Retry.Until("the live master saw the ten chunks", () => Enumerable.Range(100, 10).All(h => live.Received.Any(r => r.Changed.Any(c => c.Handle == h))), Patience);
        Assert.True(table.PendingChanges >= 10, $"{table.PendingChanges} changes kept");

        // ...and dropped once its next heartbeat is a full report anyway (10 s after its last one).
        await Retry.Until("the changes are pruned", () => table.PendingChanges == 0, Patience);

        // The master comes back: its first heartbeat is the full report, with every chunk.
        await using var back = await FakeMaster.StartAsync(port);
        await Retry.Until("the returning master got a heartbeat", () => !back.Received.IsEmpty, Patience);
        Assert.True(back.Received.TryPeek(out var first));
        Assert.True(first.FullReport);
        Assert.Equal(Enumerable.Range(100, 10).Select(h => (long)h), first.Chunks.Select(c => c.Handle).Where(h => h >= 100).Order());
    }

    [Fact]
    public async Task ALargeFullReport_GoesInParts_BackToBack_CoveringEveryChunk()
    {
        await using var master = await FakeMaster.StartAsync();
        await using var cluster = await ChunkserverTestCluster.StartAsync(count: 1, masters: [master.Url], configure: o => o.ReportPartChunks = 3);
        for (var handle = 200L; handle < 210; handle++)
        {
            await cluster.GrantAsync(handle, 1, [0], create: true);
        }

        await Retry.Until("the ten chunks were reported", () => Enumerable.Range(200, 10).All(h => master.Received.Any(r => r.Changed.Any(c => c.Handle == h))), Patience);
        _ = master.Once(h => !h.FullReport, new HeartbeatReply { IsLeader = true, SendFullReport = true });
        await Retry.Until("the last part of a full report", () => master.Received.Any(h => h.FullReport && h.FullReportPart == 3 && !h.FullReportMore), Patience);

        var received = master.Received.ToList();
        var last = received.FindIndex(h => h.FullReport && h.FullReportPart == 3 && !h.FullReportMore);
        var parts = received.GetRange(last - 3, 4);
        Assert.Equal([(0, true), (1, true), (2, true), (3, false)], parts.Select(p => (p.FullReportPart, p.FullReportMore)));
        Assert.All(parts, p => Assert.True(p.FullReport && p.Chunks.Count <= 3));
        Assert.Equal(Enumerable.Range(200, 10).Select(h => (long)h), parts.SelectMany(p => p.Chunks).Select(c => c.Handle).Order());
    }

    [Fact]
    public async Task DeleteOrder_IsHonouredOnlyUpToItsVersion()
    {
        await using var master = await FakeMaster.StartAsync();
        await using var cluster = await ChunkserverTestCluster.StartAsync(count: 1, masters: [master.Url]);
        await cluster.GrantAsync(41, 5, [0], create: true);
        await cluster.GrantAsync(42, 1, [0], create: true);
        await cluster.GrantAsync(43, 1, [0], create: true);
        await cluster.GrantAsync(44, 1, [0], create: true);

        // Chunk 41 is at version 5: an order for versions up to 4 leaves it alone. The same reply
        // deletes chunk 43 after it: orders run one at a time in their order, so once 43 is reported
        // deleted, the order for 41 has been delivered and carried out.
        await master.Once(_ => true, new HeartbeatReply
        {
            IsLeader = true,
            Orders = [new ChunkOrder { Kind = ChunkOrderKind.Delete, Handle = 41, Version = 4 }, new ChunkOrder { Kind = ChunkOrderKind.Delete, Handle = 43, Version = 0 }],
        }).WaitAsync(Patience);
        await Retry.Until("chunk 43 is reported deleted", () => master.Received.Any(h => h.Deleted.Contains(43)), Patience);
        Assert.Equal(5, (await cluster.InfoAsync(0, 41)).Version);
        Assert.DoesNotContain(master.Received, h => h.Deleted.Contains(41));

        // A follower's orders are ignored. The chunkserver has taken such a reply in once it no longer
        // counts that master as the leader; a leader's order for chunk 44 then comes after it.
        master.OnHeartbeat(_ => new HeartbeatReply { IsLeader = false, Orders = [new ChunkOrder { Kind = ChunkOrderKind.Delete, Handle = 41, Version = 0 }] });
        await Retry.Until("a follower's reply was taken in", () => cluster[0].Worker.Leader is null, Patience);
        await master.Once(_ => true, new HeartbeatReply { IsLeader = true, Orders = [new ChunkOrder { Kind = ChunkOrderKind.Delete, Handle = 44, Version = 0 }] }).WaitAsync(Patience);
        await Retry.Until("chunk 44 is reported deleted", () => master.Received.Any(h => h.Deleted.Contains(44)), Patience);
        Assert.Equal(5, (await cluster.InfoAsync(0, 41)).Version);
        Assert.DoesNotContain(master.Received, h => h.Deleted.Contains(41));

        // At its version (and with 0, any version) the leader's order deletes, and the next report says so.
        await master.Once(_ => true, new HeartbeatReply
        {
            IsLeader = true,
            Orders = [new ChunkOrder { Kind = ChunkOrderKind.Delete, Handle = 41, Version = 5 }, new ChunkOrder { Kind = ChunkOrderKind.Delete, Handle = 42, Version = 0 }],
        }).WaitAsync(Patience);
        await Retry.Until("both chunks are reported deleted", () => master.Received.Any(h => h.Deleted.Contains(41)) && master.Received.Any(h => h.Deleted.Contains(42)), Patience);
        Assert.Equal(ErrorCode.NotFound, (await ChunkserverTestCluster.Refused(() => cluster.InfoAsync(0, 41))).Code);
        Assert.Equal(ErrorCode.NotFound, (await ChunkserverTestCluster.Refused(() => cluster.InfoAsync(0, 42))).Code);
    }

    [Fact]
    public async Task LeaseExtensions_RunFromTheHeartbeat_AndRevocationsDropTheLease()
    {
        await using var master = await FakeMaster.StartAsync();
        await using var cluster = await ChunkserverTestCluster.StartAsync(count: 1, masters: [master.Url]);
        // Leases long enough that a loaded machine still extends 51 before it runs out.
        await cluster.GrantAsync(51, 1, [0], create: true, leaseMs: 30_000);
        await cluster.GrantAsync(52, 1, [0], create: true, leaseMs: 30_000);
        var data = ChunkserverTestCluster.Random(1000, 1);
        await cluster.PushAsync("e1", data, [0]);
        await cluster.WriteAsync(0, 51, 1, 0, "e1", data.Length);

        // Mutations flowed on 51: the primary asks for an extension; the leader grants 120 s.
        master.OnHeartbeat(h => new HeartbeatReply
        {
            IsLeader = true,
            Extensions = [.. h.Leases.Where(l => l.WantsExtension).Select(l => new LeaseExtension { Handle = l.Handle, Version = l.Version, LeaseMs = 120_000 })],
        });
        await Retry.Until("the lease on 51 is extended", () => master.Received.Any(h => h.Leases.Any(l => l.Handle == 51 && l.RemainingMs > 60_000)), Patience);
        Assert.DoesNotContain(master.Received, h => h.Leases.Any(l => l.Handle == 52 && l.WantsExtension));

        cluster.Time.Advance(TimeSpan.FromSeconds(35));
        await cluster.PushAsync("e2", data, [0]);
        Assert.Empty((await cluster.WriteAsync(0, 51, 1, data.Length, "e2", data.Length)).FailedReplicas);
        Assert.Equal(ErrorCode.LeaseExpired, (await ChunkserverTestCluster.Refused(() => cluster.WriteAsync(0, 52, 1, 0, "e2", data.Length))).Code);

        // The leader revokes 51: the next write is refused.
        master.OnHeartbeat(_ => new HeartbeatReply { IsLeader = true, Revoked = [51] });
        await Retry.Until("the lease on 51 is dropped", () => cluster[0].Service.Chunks.Find(51)!.LiveLease(cluster.Time.GetTimestamp()) == 0, Patience);
        await cluster.PushAsync("e3", data, [0]);
        Assert.Equal(ErrorCode.LeaseExpired, (await ChunkserverTestCluster.Refused(() => cluster.WriteAsync(0, 51, 1, 2 * data.Length, "e3", data.Length))).Code);
    }
}
