using Gfs.Master.Commands;
using Gfs.Master.Replication;
using Gfs.Master.State;

namespace Gfs.Master.Cluster;

/// <summary><see cref="IMasterLog"/> over the Raft-replicated <see cref="MasterReplica"/>.</summary>
public sealed class ReplicaMasterLog(MasterReplica replica) : IMasterLog
{
    public bool IsLeader => replica.Raft.IsLeader;

    public long Term => replica.Raft.Term;

    public Task ReadBarrierAsync(CancellationToken cancellationToken) => replica.Raft.ReadBarrierAsync(cancellationToken);

    public T Read<T>(Func<MasterState, T> read) => replica.Master.Read(read);

    public Task<CommandResult> ExecuteAsync(MasterOp op, CancellationToken cancellationToken) => replica.ExecuteAsync(0, 0, op, cancellationToken);

    public Task<CommandResult> ExecuteAsync(long clientId, long requestId, MasterOp op, CancellationToken cancellationToken) => replica.ExecuteAsync(clientId, requestId, op, cancellationToken);

    public long NewChunkHandle() => replica.NewChunkHandle();
}
