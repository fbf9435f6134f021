namespace Gfs.Consensus;

/// <summary>
/// Gives RequestVote and PreVote a short deadline. DotNext uses one timeout for every Raft RPC, and a
/// candidate waits for every vote reply before it counts: with a long timeout (needed for snapshots) a
/// paused peer would stall every election. A vote that times out counts as an unavailable member.
/// </summary>
internal sealed class RaftRpcTimeoutHandler(TimeSpan voteTimeout) : DelegatingHandler
{
    private const string MessageTypeHeader = "X-Raft-Message-Type";

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!request.Headers.TryGetValues(MessageTypeHeader, out var values) || !values.Any(v => v is "RequestVote" or "PreVote"))
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(voteTimeout);
        return await base.SendAsync(request, deadline.Token).ConfigureAwait(false);
    }
}
