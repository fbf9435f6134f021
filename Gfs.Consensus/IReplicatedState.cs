using System.Buffers;

namespace Gfs.Consensus;

/// <summary>
/// The application state that the Raft log drives. <see cref="ReplicatedStateMachine"/> calls it from one
/// apply loop, never concurrently with itself; the implementation synchronises its own readers.
/// </summary>
public interface IReplicatedState
{
    /// <summary>
    /// Applies one committed command and returns its result (handed to the proposer on the proposing
    /// node). Must be deterministic and must not throw: an exception would diverge the replicas.
    /// </summary>
    object? Apply(ReadOnlySequence<byte> command, long index);

    /// <summary>Captures the state for a snapshot quickly; the returned view is written on another thread while apply goes on.</summary>
    IFrozenState Freeze();

    /// <summary>Replaces the whole state with the contents of the snapshot taken at log <paramref name="index"/>.</summary>
    /// <exception cref="InvalidDataException">The snapshot is corrupt or of an unknown format.</exception>
    void Restore(Stream snapshot, long index);
}
