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
    private readonly List<PendingCommand> queue = [];
    private bool flushing;
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

    /// <summary>Most commands grouped into one log entry.</summary>
    public const int MaxGroup = 1024;

    /// <summary>
    /// Proposes <paramref name="op"/> stamped with the leader's time and returns its result. Pass the
    /// client's id and request id so that a retry after failover is answered from the exactly-once
    /// table; 0/0 for leader-internal commands. Client commands that arrive while an entry is being
    /// committed are grouped into the next entry (<see cref="GroupOp"/>): one append, one replication
    /// round and one apply dispatch for all of them, each still checked and recorded on its own.
    /// Leader-internal commands (chunk allocations, version raises) are grouped the same way.
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
        if (!Raft.IsLeader)
        {
            throw new NotLeaderException(Raft.Leader, outcomeUnknown: false);
        }

        var pending = new PendingCommand(command);
        bool flush;
        lock (queue)
        {
            queue.Add(pending);
            flush = !flushing;
            flushing = true;
        }

        if (flush)
        {
            _ = Task.Run(FlushAsync, CancellationToken.None);
        }

        return await pending.Result.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<CommandResult> ProposeAsync(MasterCommand command, CancellationToken cancellationToken)
    {
        var result = await Raft.ProposeAsync(MasterState.Encode(command), cancellationToken).ConfigureAwait(false);
        return result as CommandResult ?? CommandResult.Error(ErrorCode.Internal, "the command produced no result");
    }

    /// <summary>Proposes the queued commands one group at a time until the queue is empty.</summary>
    private async Task FlushAsync()
    {
        while (true)
        {
            List<PendingCommand> group;
            lock (queue)
            {
                if (queue.Count == 0)
                {
                    flushing = false;
                    return;
                }

                var take = Math.Min(queue.Count, MaxGroup);
                group = queue.GetRange(0, take);
                queue.RemoveRange(0, take);
            }

            try
            {
                var result = group.Count == 1
                    ? [await ProposeAsync(group[0].Command, CancellationToken.None).ConfigureAwait(false)]
                    : await ProposeGroupAsync(group).ConfigureAwait(false);
                for (var i = 0; i < group.Count; i++)
                {
                    group[i].Result.TrySetResult(result[i]);
                }
            }
            catch (Exception e)
            {
                // NotLeader (maybe with an unknown outcome) or a lost proposal: every caller retries
                // with its own ids, and the exactly-once table answers for those that were applied.
                foreach (var pending in group)
                {
                    pending.Result.TrySetException(e);
                }
            }
        }
    }

    private async Task<CommandResult[]> ProposeGroupAsync(List<PendingCommand> group)
    {
        var command = new MasterCommand
        {
            Timestamp = time.GetUtcNow().ToUnixTimeMilliseconds(),
            Op = new GroupOp { Commands = group.Select(p => p.Command).ToArray() },
        };
        var result = await ProposeAsync(command, CancellationToken.None).ConfigureAwait(false);
        return result.Batch is { } results && results.Length == group.Count
            ? results
            : throw new InvalidOperationException($"a group of {group.Count} commands produced {result.Batch?.Length ?? 0} results ({result})");
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

    private sealed class PendingCommand(MasterCommand command)
    {
        public MasterCommand Command { get; } = command;

        public TaskCompletionSource<CommandResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
