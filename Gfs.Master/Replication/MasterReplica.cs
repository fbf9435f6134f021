using Gfs.Client.Protocol;
using Gfs.Consensus;
using Gfs.Master.Commands;
using Gfs.Master.State;

namespace Gfs.Master.Replication;

/// <summary>
/// What the master's RPC layer calls: run a client operation through the log (exactly-once by client
/// and request id), read linearizably, allocate chunk handles. Safe for many concurrent callers;
/// DotNext batches concurrent proposals into shared disk writes and replication rounds.
/// </summary>
public sealed class MasterReplica
{
    private readonly TimeProvider time;
    private long handleCounter;

    public MasterReplica(RaftNode raft, ReplicatedMaster master, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(raft);
        ArgumentNullException.ThrowIfNull(master);
        ArgumentNullException.ThrowIfNull(time);
        Raft = raft;
        Master = master;
        this.time = time;
    }

    public RaftNode Raft { get; }

    public ReplicatedMaster Master { get; }

    /// <summary>
    /// Proposes <paramref name="op"/> stamped with the leader's time and returns its result. Pass the
    /// client's id and request id so that a retry after failover is answered from the exactly-once
    /// table; 0/0 for leader-internal commands.
    /// </summary>
    /// <exception cref="NotLeaderException">Not the leader; if <see cref="NotLeaderException.OutcomeUnknown"/>, retry with the same ids.</exception>
    public async Task<CommandResult> ExecuteAsync(long clientId, long requestId, MasterOp op, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(op);
        var command = new MasterCommand
        {
            ClientId = clientId,
            RequestId = requestId,
            Timestamp = time.GetUtcNow().ToUnixTimeMilliseconds(),
            Op = op,
        };
        var result = await Raft.ProposeAsync(MasterState.Encode(command), cancellationToken).ConfigureAwait(false);
        return result as CommandResult ?? CommandResult.Error(ErrorCode.Internal, "the command produced no result");
    }

    /// <summary>Waits for a read barrier (leader only), then runs <paramref name="read"/> on the state.</summary>
    /// <exception cref="NotLeaderException">Not the leader.</exception>
    public async Task<T> ReadAsync<T>(Func<MasterState, T> read, CancellationToken cancellationToken = default)
    {
        await Raft.ReadBarrierAsync(cancellationToken).ConfigureAwait(false);
        return Master.Read(read);
    }

    /// <summary>
    /// A chunk handle no committed or in-flight allocation of this leader uses. Call only while leading:
    /// the floor is the replicated <see cref="MasterState.NextChunkHandle"/>, which is current once the
    /// leader has committed its term. A collision (possible only across leaders) is refused by apply with Conflict.
    /// </summary>
    public long NewChunkHandle()
    {
        while (true)
        {
            var current = Volatile.Read(ref handleCounter);
            var next = Math.Max(current, Master.NextChunkHandle);
            if (Interlocked.CompareExchange(ref handleCounter, next + 1, current) == current)
            {
                return next;
            }
        }
    }
}
