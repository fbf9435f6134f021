using System.Net;
using System.Text;

namespace Gfs.Consensus.Tests;

public class PausedPeerTests
{
    /// <summary>
    /// DotNext counts votes only after every reply arrived, and a replication round without consensus
    /// waits for every member. Without short timeouts a peer that accepts connections but never answers
    /// (a paused process) holds elections and rounds for the long RPC timeout: no leader, no commit.
    /// </summary>
    [Fact]
    public async Task TwoMembers_ElectALeader_WhileTheThirdAcceptsButNeverAnswers()
    {
        await using var cluster = new RaftCluster3();
        using var hole = new BlackHole(cluster.Nodes[2].Ports[2]);
        await cluster.Nodes[0].StartAsync();
        await cluster.Nodes[1].StartAsync();

        var leader = await cluster.LeaderAsync();
        Assert.NotEqual(2, leader.Id);
        Assert.Equal(1, await leader.Raft.ProposeAsync(Encoding.UTF8.GetBytes("while-paused")));
        await cluster.AllHaveAsync(1);
    }

    [Theory]
    [InlineData("RequestVote", null, true)]
    [InlineData("PreVote", null, true)]
    [InlineData("AppendEntries", "0", true)]
    [InlineData("AppendEntries", "64", true)]
    [InlineData("AppendEntries", "65", false)]
    [InlineData("InstallSnapshot", null, false)]
    [InlineData("Metadata", null, false)]
    public void ShortRpcs_AreRecognised(string type, string? count, bool isShort)
    {
        using var handler = new RaftRpcTimeoutHandler(TimeSpan.FromMilliseconds(200));
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://peer/");
        request.Headers.Add("X-Raft-Message-Type", type);
        if (count is not null)
        {
            request.Headers.Add("X-Raft-Entries-Count", count);
        }

        Assert.Equal(isShort, handler.IsShort(request));
    }

    [Fact]
    public async Task VoteRequests_TimeOutQuickly_OtherRaftRpcsDoNot()
    {
        using var handler = new RaftRpcTimeoutHandler(TimeSpan.FromMilliseconds(200)) { InnerHandler = new HangingHandler() };
        using var invoker = new HttpMessageInvoker(handler);

        using var vote = new HttpRequestMessage(HttpMethod.Post, "http://peer/");
        vote.Headers.Add("X-Raft-Message-Type", "RequestVote");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => invoker.SendAsync(vote, CancellationToken.None));

        using var append = new HttpRequestMessage(HttpMethod.Post, "http://peer/");
        append.Headers.Add("X-Raft-Message-Type", "AppendEntries");
        append.Headers.Add("X-Raft-Entries-Count", "1000");
        using var outer = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => invoker.SendAsync(append, outer.Token));
        Assert.True(outer.IsCancellationRequested, "AppendEntries was cut short by the vote timeout");
    }

    private sealed class HangingHandler : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return new HttpResponseMessage(HttpStatusCode.OK);
        }
    }
}
