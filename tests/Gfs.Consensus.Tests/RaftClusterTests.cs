using System.Text;

namespace Gfs.Consensus.Tests;

public class RaftClusterTests
{
    [Fact]
    public async Task ThreeMembers_ElectALeader_AndApplyTheSameSequence()
    {
        await using var cluster = new RaftCluster3();
        await cluster.StartAllAsync();
        var leader = await cluster.LeaderAsync();

        // Concurrent proposals: each gets its own apply result back (the list length after it).
        var results = await Task.WhenAll(Enumerable.Range(0, 64).Select(i => leader.Raft.ProposeAsync(Encoding.UTF8.GetBytes($"c{i}"))));
        Assert.Equal(Enumerable.Range(1, 64), results.Cast<int>().Order());

        await cluster.AllHaveAsync(64);
        var reference = leader.State.Items;
        Assert.All(cluster.Nodes, n => Assert.Equal(reference, n.State.Items));
        Assert.Equal(Enumerable.Range(0, 64).Select(i => $"c{i}").Order(), reference.Order());
    }

    [Fact]
    public async Task Followers_RefuseProposalsAndReads_NamingTheLeader()
    {
        await using var cluster = new RaftCluster3();
        await cluster.StartAllAsync();
        var leader = await cluster.LeaderAsync();
        await leader.Raft.ProposeAsync("x"u8.ToArray());
        await leader.Raft.ReadBarrierAsync();

        var follower = cluster.Nodes.First(n => n != leader);
        await Gfs.Testing.Retry.Until("the follower knows the leader", () => follower.Raft.Leader is not null, RaftCluster3.Patience);
        var refused = await Assert.ThrowsAsync<NotLeaderException>(() => follower.Raft.ProposeAsync("y"u8.ToArray()));
        Assert.False(refused.OutcomeUnknown);
        Assert.Equal(leader.Id, refused.Leader!.MemberId);
        await Assert.ThrowsAsync<NotLeaderException>(() => follower.Raft.ReadBarrierAsync());

        // The leader's client URL comes from its member metadata.
        var clientUrl = await follower.Raft.GetLeaderClientUrlAsync();
        Assert.Equal(new Uri($"http://client-{leader.Id}.test:7000/"), clientUrl);
        Assert.True(leader.Raft.Leader!.IsLocal);
    }

    [Fact]
    public async Task LeaderStops_AnotherIsElected_AndNothingCommittedIsLost()
    {
        await using var cluster = new RaftCluster3();
        await cluster.StartAllAsync();
        for (var i = 0; i < 20; i++)
        {
            await cluster.ProposeAsync($"before{i}");
        }

        var old = await cluster.LeaderAsync();
        var changes = new List<RaftLeaderInfo?>();
        var survivor = cluster.Nodes.First(n => n != old);
        survivor.Raft.LeaderChanged += info =>
        {
            lock (changes)
            {
                changes.Add(info);
            }
        };

        await old.StopAsync();
        var successor = await cluster.LeaderAsync();
        Assert.NotEqual(old.Id, successor.Id);
        for (var i = 0; i < 20; i++)
        {
            await cluster.ProposeAsync($"after{i}");
        }

        await old.StartAsync();
        await cluster.AllHaveAsync(40);
        var reference = successor.State.Items;
        Assert.Equal(40, reference.Length);
        Assert.All(cluster.Nodes, n => Assert.Equal(reference, n.State.Items));
        lock (changes)
        {
            Assert.Contains(changes, c => c?.MemberId == successor.Id);
        }
    }

    [Fact]
    public async Task StoppedFollower_CatchesUpThroughASnapshot_AfterTheLogWasCompacted()
    {
        await using var cluster = new RaftCluster3(snapshotLogBytes: 8 * 1024);
        await cluster.StartAllAsync();
        var leader = await cluster.LeaderAsync();
        var lagging = cluster.Nodes.First(n => n != leader);
        await lagging.StopAsync();

        const int Count = 3000;
        var payload = new string('p', 100);
        for (var batch = 0; batch < Count / 100; batch++)
        {
            await Task.WhenAll(Enumerable.Range(0, 100).Select(i => cluster.ProposeAsync($"{batch * 100 + i}:{payload}")));
        }

        var current = await cluster.LeaderAsync();
        await Gfs.Testing.Retry.Until("the leader took a snapshot", () => current.Raft.StateMachine.SnapshotIndex > 0, RaftCluster3.Patience);

        await lagging.StartAsync();
        await cluster.AllHaveAsync(Count);
        Assert.True(lagging.Raft.StateMachine.SnapshotsInstalled > 0, "the follower caught up without a snapshot");
        var reference = current.State.Items;
        Assert.All(cluster.Nodes, n => Assert.Equal(reference, n.State.Items));
    }

    /// <summary>Kestrel refuses request bodies over 30 MB by default; InstallSnapshot must not be limited.</summary>
    [Fact]
    public async Task StoppedFollower_InstallsASnapshotLargerThanKestrelsDefaultBodyLimit()
    {
        await using var cluster = new RaftCluster3(snapshotLogBytes: 16L << 20);
        await cluster.StartAllAsync();
        var leader = await cluster.LeaderAsync();
        var lagging = cluster.Nodes.First(n => n != leader);
        await lagging.StopAsync();

        // 40 commands of 1 MB: a 40 MB state, snapshotted after 16 MB of log.
        var big = new string('b', 1 << 20);
        for (var i = 0; i < 40; i++)
        {
            await cluster.ProposeAsync($"{i}:{big}");
        }

        var current = await cluster.LeaderAsync();
        current.Raft.StateMachine.RequestSnapshot();
        await cluster.ProposeAsync("last");
        await Gfs.Testing.Retry.Until("the leader snapshotted the whole state", () => current.Raft.StateMachine.SnapshotIndex >= 41, RaftCluster3.Patience);

        await lagging.StartAsync();
        await cluster.AllHaveAsync(41);
        Assert.True(lagging.Raft.StateMachine.SnapshotsInstalled > 0, "the follower caught up without a snapshot");
        Assert.Equal(current.State.Items, lagging.State.Items);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task AllMembersRestart_WithTheOtherWalWriteMode_KeepEverythingCommitted(bool directBefore, bool directAfter)
    {
        await using var cluster = new RaftCluster3(snapshotLogBytes: 1L << 30);
        foreach (var node in cluster.Nodes)
        {
            node.WalDirectWrites = directBefore;
        }

        await cluster.StartAllAsync();
        for (var i = 0; i < 200; i++)
        {
            await cluster.ProposeAsync($"e{i}:{new string('w', 100)}");
        }

        var expected = (await cluster.LeaderAsync()).State.Items;
        foreach (var node in cluster.Nodes)
        {
            await node.StopAsync();
            node.WalDirectWrites = directAfter;
        }

        // No snapshot was taken (1 GiB threshold): everything comes back from the log pages alone.
        await cluster.StartAllAsync();
        await cluster.LeaderAsync();
        await cluster.ProposeAsync("after-switch");
        await cluster.AllHaveAsync(201);
        Assert.All(cluster.Nodes, n => Assert.Equal([.. expected, "after-switch"], n.State.Items));
    }

    [Fact]
    public async Task AllMembersRestart_NothingCommittedIsLost()
    {
        await using var cluster = new RaftCluster3(snapshotLogBytes: 16 * 1024);
        await cluster.StartAllAsync();
        for (var i = 0; i < 300; i++)
        {
            await cluster.ProposeAsync($"e{i}:{new string('q', 80)}");
        }

        var expected = (await cluster.LeaderAsync()).State.Items;
        foreach (var node in cluster.Nodes)
        {
            await node.StopAsync();
        }

        await cluster.StartAllAsync();
        await cluster.LeaderAsync();
        await cluster.ProposeAsync("after-restart");
        await cluster.AllHaveAsync(301);
        Assert.All(cluster.Nodes, n => Assert.Equal([.. expected, "after-restart"], n.State.Items));
    }
}
