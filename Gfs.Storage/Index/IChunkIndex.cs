using Gfs.Storage.Chunks;

namespace Gfs.Storage.Index;

/// <summary>
/// The persistent chunk index behind our own interface, so FASTER (frozen upstream) can be replaced.
/// It holds checkpoints only: the write-ahead log carries every change made since the last one.
/// </summary>
internal interface IChunkIndex : IDisposable
{
    /// <summary>
    /// Loads the newest readable checkpoint: every record, the append tables of the chunks that have one, and the
    /// log position it covers (0 when none).
    /// </summary>
    (Dictionary<long, ChunkRecord> Records, Dictionary<long, AppendTable> Appends, long LogPosition) Recover();

    /// <summary>
    /// Applies the changes since the previous checkpoint and makes a durable checkpoint covering the log up to
    /// <paramref name="logPosition"/>. Returns the log position the previous checkpoint covered: the log may be
    /// truncated up to it (one checkpoint late, so a damaged newest checkpoint can fall back to the one before).
    /// The append tables are read before the first await (callers do not change them meanwhile).
    /// </summary>
    Task<long> CheckpointAsync(IReadOnlyCollection<IndexUpsert> upserts, IReadOnlyCollection<long> deletes, long logPosition, CancellationToken cancellationToken);
}
