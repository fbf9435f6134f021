using System.Buffers;
using Gfs.Consensus;
using Gfs.Master.State;

namespace Gfs.Master.Replication;

/// <summary>
/// The master state as the Raft log sees it (<see cref="IReplicatedState"/>) and as readers see it:
/// apply takes the write side of a reader-writer lock for one entry (microseconds), reads take the
/// read side for one query. No lock is ever held across a Raft round trip.
/// </summary>
public sealed class ReplicatedMaster : IReplicatedState, IDisposable
{
    private readonly ReaderWriterLockSlim gate = new(LockRecursionPolicy.NoRecursion);
    private MasterState state = new();
    private long nextChunkHandle = 1;
    private long appliedIndex;

    /// <summary>Index of the last log entry applied.</summary>
    public long AppliedIndex => Volatile.Read(ref appliedIndex);

    /// <summary><see cref="MasterState.NextChunkHandle"/> as of the last apply, readable without the lock.</summary>
    public long NextChunkHandle => Volatile.Read(ref nextChunkHandle);

    /// <summary>Runs <paramref name="read"/> against the current state under the read lock. Do not keep references into the state.</summary>
    public T Read<T>(Func<MasterState, T> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        gate.EnterReadLock();
        try
        {
            return read(state);
        }
        finally
        {
            gate.ExitReadLock();
        }
    }

    public object? Apply(ReadOnlySequence<byte> command, long index)
    {
        gate.EnterWriteLock();
        try
        {
            var result = state.Apply(command);
            Volatile.Write(ref nextChunkHandle, state.NextChunkHandle);
            Volatile.Write(ref appliedIndex, index);
            return result;
        }
        finally
        {
            gate.ExitWriteLock();
        }
    }

    public IFrozenState Freeze()
    {
        gate.EnterWriteLock();
        try
        {
            return new FrozenMaster(state.Freeze());
        }
        finally
        {
            gate.ExitWriteLock();
        }
    }

    public void Restore(Stream snapshot, long index)
    {
        var restored = MasterState.ReadFrom(snapshot);
        gate.EnterWriteLock();
        try
        {
            state = restored;
            Volatile.Write(ref nextChunkHandle, restored.NextChunkHandle);
            Volatile.Write(ref appliedIndex, index);
        }
        finally
        {
            gate.ExitWriteLock();
        }
    }

    public void Dispose() => gate.Dispose();

    private sealed class FrozenMaster(MasterStateSnapshot snapshot) : IFrozenState
    {
        public void WriteTo(Stream destination) => snapshot.WriteTo(destination);
    }
}
