namespace Gfs.Consensus;

/// <summary>
/// Gives RequestVote and PreVote a short deadline. DotNext applies one timeout to every Raft RPC, and
/// that one must be long (InstallSnapshot of hundreds of MB), but a candidate counts votes only after
/// every reply: a peer that accepts connections and never answers (a paused process) would hold each
/// election for the long timeout, and no election could succeed. A timed-out vote counts as an
/// unavailable member. Appends are not cut by time — a busy follower (say, fsyncing a snapshot) must
/// not cost the leader its quorum — a dead connection is detected by HTTP/2 keep-alive pings instead
/// (see <see cref="RaftHostingExtensions"/>).
/// </summary>
internal sealed class RaftRpcTimeoutHandler(TimeSpan voteTimeout) : DelegatingHandler
{
    private const string MessageTypeHeader = "X-Raft-Message-Type";

    internal static bool IsVote(HttpRequestMessage request)
        => request.Headers.TryGetValues(MessageTypeHeader, out var types) && types.FirstOrDefault() is "RequestVote" or "PreVote";

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!IsVote(request))
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(voteTimeout);
        return await base.SendAsync(request, deadline.Token).ConfigureAwait(false);
    }
}
