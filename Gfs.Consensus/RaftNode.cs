using System.Collections.Concurrent;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using DotNextNotLeader = DotNext.Net.Cluster.Consensus.Raft.NotLeaderException;

namespace Gfs.Consensus;

/// <summary>
/// What the application sees of Raft: propose a command and get its apply result, linearizable read
/// barriers, who the leader is and its client URL, and leadership changes. Knows nothing of files.
/// </summary>
public sealed class RaftNode : IDisposable
{
    private readonly IRaftCluster cluster;
    private readonly GfsRaftOptions options;
    private readonly ILogger logger;
    private readonly ConcurrentDictionary<Uri, Uri> clientUrls = new();
    private long nextProposalId;

    public RaftNode(IRaftCluster cluster, ReplicatedStateMachine stateMachine, GfsRaftOptions options, ILogger<RaftNode>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(options);
        this.cluster = cluster;
        this.options = options;
        StateMachine = stateMachine;
        this.logger = logger ?? NullLogger<RaftNode>.Instance;
        if (options.ClientUrl is { } own)
        {
            clientUrls[options.LocalMember] = own;
        }

        cluster.LeaderChanged += OnLeaderChanged;
    }

    /// <summary>Raised on every leader change, with the new leader or null while there is none. Runs on a Raft thread: return quickly.</summary>
    public event Action<RaftLeaderInfo?>? LeaderChanged;

    public ReplicatedStateMachine StateMachine { get; }

    public int MemberId => options.MemberId;

    public long Term => cluster.Term;

    /// <summary>True while this member leads and has committed an entry of its term (so its state is current).</summary>
    public bool IsLeader => !cluster.LeadershipToken.IsCancellationRequested;

    /// <summary>Cancelled when this member stops leading (or is not leading now).</summary>
    public CancellationToken LeadershipToken => cluster.LeadershipToken;

    /// <summary>The leader as this member knows it; null while there is none.</summary>
    public RaftLeaderInfo? Leader => Describe(cluster.Leader);

    /// <summary>Waits until some member leads; returns it.</summary>
    public async Task<RaftLeaderInfo> WaitForLeaderAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var leader = await cluster.WaitForLeaderAsync(timeout, cancellationToken).ConfigureAwait(false);
        return Describe(leader) ?? throw new TimeoutException("no leader");
    }

    /// <summary>
    /// Appends <paramref name="command"/> to the log, waits until it is committed and applied here, and
    /// returns what <see cref="IReplicatedState.Apply"/> returned for it.
    /// </summary>
    /// <exception cref="NotLeaderException">Not the leader (see <see cref="NotLeaderException.OutcomeUnknown"/>).</exception>
    /// <exception cref="OperationCanceledException">Cancelled; the outcome is unknown.</exception>
    public async Task<object?> ProposeAsync(ReadOnlyMemory<byte> command, CancellationToken cancellationToken = default)
    {
        if (!IsLeader)
        {
            throw new NotLeaderException(Leader, outcomeUnknown: false);
        }

        var context = new ProposalContext((ulong)Interlocked.Increment(ref nextProposalId));
        var entry = CommandFraming.Frame(context.Id, command.Span);
        try
        {
            await cluster.ReplicateAsync(entry, context, cancellationToken).ConfigureAwait(false);
        }
        catch (DotNextNotLeader e)
        {
            throw new NotLeaderException(Leader, outcomeUnknown: true, e);
        }
        catch (InvalidOperationException e) when (!IsLeader)
        {
            throw new NotLeaderException(Leader, outcomeUnknown: true, e);
        }

        return context.Applied
            ? context.Result
            : throw new NotLeaderException(Leader, outcomeUnknown: true); // committed, but its result did not reach us
    }

    /// <summary>
    /// Returns once this member's state reflects every write acknowledged before the call: with a
    /// valid leader lease at once (plus the term's first commit), otherwise after a heartbeat round
    /// confirms leadership. Followers throw <see cref="NotLeaderException"/>.
    /// </summary>
    public async Task ReadBarrierAsync(CancellationToken cancellationToken = default)
    {
        if (!IsLeader)
        {
            throw new NotLeaderException(Leader, outcomeUnknown: false);
        }

        var type = options.LeaderLease && cluster.TryGetLeaseToken(out var lease) && !lease.IsCancellationRequested
            ? ReadBarrierType.Weak
            : ReadBarrierType.Strong;
        try
        {
            await cluster.ApplyReadBarrierAsync(type, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DotNextNotLeader or QuorumUnreachableException)
        {
            throw new NotLeaderException(Leader, outcomeUnknown: false, e);
        }

        if (!IsLeader)
        {
            throw new NotLeaderException(Leader, outcomeUnknown: false);
        }
    }

    /// <summary>The leader's client URL, asking the leader for its metadata when not known yet.</summary>
    public async Task<Uri?> GetLeaderClientUrlAsync(CancellationToken cancellationToken = default)
    {
        if (cluster.Leader is not { EndPoint: UriEndPoint endPoint } leader)
        {
            return null;
        }

        if (clientUrls.TryGetValue(endPoint.Uri, out var known))
        {
            return known;
        }

        try
        {
            var metadata = await leader.GetMetadataAsync(refresh: false, cancellationToken).ConfigureAwait(false);
            if (metadata.TryGetValue(GfsRaftOptions.ClientUrlMetadataKey, out var value) && Uri.TryCreate(value, UriKind.Absolute, out var url))
            {
                clientUrls[endPoint.Uri] = url;
                return url;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.MetadataFailed(logger, endPoint.Uri.ToString(), e);
        }

        return null;
    }

    private RaftLeaderInfo? Describe(IClusterMember? leader)
    {
        if (leader?.EndPoint is not UriEndPoint endPoint)
        {
            return null;
        }

        var id = IndexOf(endPoint.Uri);
        clientUrls.TryGetValue(endPoint.Uri, out var clientUrl);
        return new RaftLeaderInfo(id, endPoint.Uri, clientUrl, !leader.IsRemote);
    }

    private int IndexOf(Uri url)
    {
        for (var i = 0; i < options.Members.Count; i++)
        {
            if (Uri.Compare(options.Members[i], url, UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0)
            {
                return i;
            }
        }

        return -1;
    }

    private void OnLeaderChanged(ICluster sender, IClusterMember? leader)
    {
        var info = Describe(leader);
        Log.LeaderChanged(logger, info?.RaftUrl.ToString() ?? "none", cluster.Term);
        if (info is { ClientUrl: null, IsLocal: false })
        {
            // Learn the new leader's client URL in the background so NotLeader replies can carry it.
            _ = GetLeaderClientUrlAsync(CancellationToken.None);
        }

        LeaderChanged?.Invoke(info);
    }

    public void Dispose() => cluster.LeaderChanged -= OnLeaderChanged;
}
