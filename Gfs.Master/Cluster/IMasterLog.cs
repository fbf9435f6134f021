using Gfs.Master.Commands;
using Gfs.Master.State;

namespace Gfs.Master.Cluster;

/// <summary>What the data-path logic needs of the replicated master: leadership, reads, leader commands, new handles.</summary>
public interface IMasterLog
{
    /// <summary>True while this replica leads.</summary>
    bool IsLeader { get; }

    /// <summary>The current Raft term.</summary>
    long Term { get; }

    /// <summary>Returns once the state reflects every committed write (leader only; throws NotLeaderException otherwise).</summary>
    Task ReadBarrierAsync(CancellationToken cancellationToken);

    /// <summary>Runs a query on the local state.</summary>
    T Read<T>(Func<MasterState, T> read);

    /// <summary>Proposes a leader command (no exactly-once identity) and returns its result.</summary>
    Task<CommandResult> ExecuteAsync(MasterOp op, CancellationToken cancellationToken);

    /// <summary>Proposes a client's command with its exactly-once identity; a retry of the same ids returns the first result (marked replayed).</summary>
    Task<CommandResult> ExecuteAsync(long clientId, long requestId, MasterOp op, CancellationToken cancellationToken);

    /// <summary>A chunk handle no committed or in-flight allocation uses.</summary>
    long NewChunkHandle();
}
