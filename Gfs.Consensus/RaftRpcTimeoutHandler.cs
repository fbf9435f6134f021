namespace Gfs.Consensus;

/// <summary>
/// Gives short Raft RPCs a short deadline. DotNext applies one timeout to every Raft RPC, and that one
/// must be long (InstallSnapshot of hundreds of MB). But a candidate counts votes only after every
/// reply, and a leader's replication round waits for a slow member whenever the others have not
/// reached consensus yet (for instance right after an election, while a follower's log is being
/// matched). A peer that accepts connections and never answers (a paused process) would then hold
/// elections and rounds for the whole long timeout. Votes, heartbeats and small AppendEntries get
/// <c>shortTimeout</c>; a timed-out call counts as an unavailable member, and the next round retries.
/// </summary>
internal sealed class RaftRpcTimeoutHandler(TimeSpan shortTimeout, int smallAppendEntries = 64) : DelegatingHandler
{
    private const string MessageTypeHeader = "X-Raft-Message-Type";
    private const string EntriesCountHeader = "X-Raft-Entries-Count";

    internal bool IsShort(HttpRequestMessage request)
    {
        if (!request.Headers.TryGetValues(MessageTypeHeader, out var types))
        {
            return false;
        }

        var type = types.FirstOrDefault();
        if (type is "RequestVote" or "PreVote")
        {
            return true;
        }

        return type is "AppendEntries"
            && request.Headers.TryGetValues(EntriesCountHeader, out var counts)
            && long.TryParse(counts.FirstOrDefault(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var count)
            && count <= smallAppendEntries;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!IsShort(request))
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(shortTimeout);
        return await base.SendAsync(request, deadline.Token).ConfigureAwait(false);
    }
}
