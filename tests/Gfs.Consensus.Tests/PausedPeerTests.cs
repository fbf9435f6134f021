using System.Net;
using System.Text;

namespace Gfs.Consensus.Tests;

public class PausedPeerTests
{
    /// <summary>
    /// DotNext counts votes only after every reply arrived, and a replication round without consensus
    /// waits for every member. A peer that accepts connections but never answers (a paused process)
    /// would hold elections and such rounds for the long RPC timeout: no leader, no commit. The vote
    /// deadline and HTTP/2 keep-alive pings bound both.
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
    [InlineData("RequestVote", true)]
    [InlineData("PreVote", true)]
    [InlineData("AppendEntries", false)]
    [InlineData("InstallSnapshot", false)]
    [InlineData("Metadata", false)]
    public void OnlyVotes_GetTheShortDeadline(string type, bool isVote)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://peer/");
        request.Headers.Add("X-Raft-Message-Type", type);
        Assert.Equal(isVote, RaftRpcTimeoutHandler.IsVote(request));
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
