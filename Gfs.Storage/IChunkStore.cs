namespace Gfs.Storage;

/// <summary>
/// A chunkserver's local chunk store. Every mutation that returns has its bytes and metadata durable
/// (survives kill -9 and power loss); every failure is a <see cref="ChunkStoreException"/>.
/// Mutations of one chunk are applied one at a time in call order; different chunks proceed in parallel
/// and share syncs (group commit).
/// </summary>
public interface IChunkStore : IAsyncDisposable
{
    /// <summary>Raised (on a background thread) when a damaged chunk is found: on read, by the scrubber or at start.</summary>
    event EventHandler<CorruptChunkEventArgs>? CorruptChunkDetected;

    /// <summary>Creates an empty chunk. AlreadyExists if the handle is taken.</summary>
    ValueTask CreateAsync(long handle, long version, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes <paramref name="data"/> at <paramref name="offset"/> (at most the chunk's length: no holes).
    /// Bytes replaced inside committed data are journaled, so after a crash a block holds either the old or the new bytes.
    /// </summary>
    ValueTask WriteAsync(long handle, long offset, ReadOnlyMemory<byte> data, long expectedVersion, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes a record at the chunk's end (<paramref name="offset"/> must be its length, as a secondary applies a
    /// record append at the primary's offset) and remembers <paramref name="append"/> → <paramref name="offset"/> with it,
    /// in the same durable commit. AlreadyExists when the chunk knows that identity already; InvalidArgument for no bytes.
    /// </summary>
    ValueTask WriteAsync(long handle, long offset, ReadOnlyMemory<byte> data, long expectedVersion, AppendId append, CancellationToken cancellationToken = default);

    /// <summary>Appends <paramref name="data"/> at the chunk's end and returns the offset it was written at.</summary>
    ValueTask<long> AppendAsync(long handle, ReadOnlyMemory<byte> data, long expectedVersion, CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends a record at the chunk's end, remembering <paramref name="append"/> → its offset in the same durable commit,
    /// and returns the offset. AlreadyExists when the chunk knows that identity already; InvalidArgument for no bytes.
    /// </summary>
    ValueTask<long> AppendAsync(long handle, ReadOnlyMemory<byte> data, long expectedVersion, AppendId append, CancellationToken cancellationToken = default);

    /// <summary>
    /// Where the record append (<paramref name="clientId"/>, <paramref name="sequence"/>) was written in the chunk, or
    /// null when the chunk does not know it: never appended, or forgotten (a chunk keeps each client's last
    /// <see cref="ChunkStoreOptions.AppendsPerClient"/> and at most <see cref="ChunkStoreOptions.AppendsPerChunk"/>,
    /// oldest out first, so replicas that applied the same appends know the same ones). Survives restarts.
    /// </summary>
    long? FindAppend(long handle, long clientId, long sequence);

    /// <summary>
    /// Reads up to <paramref name="destination"/>.Length bytes at <paramref name="offset"/>, verifying every block it
    /// touches; returns the bytes read (fewer at the chunk's end). ChecksumMismatch names the chunk and block.
    /// </summary>
    ValueTask<int> ReadAsync(long handle, long offset, Memory<byte> destination, CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams [offset, offset+length) (clipped at the chunk's end) to <paramref name="sink"/> in verified segments:
    /// each segment's blocks are verified before it is handed out; a bad block stops the stream with ChecksumMismatch.
    /// The segment memory is only valid during the call. Returns the bytes streamed.
    /// </summary>
    ValueTask<long> ReadAsync(long handle, long offset, long length, Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask> sink, CancellationToken cancellationToken = default);

    /// <summary>Sets the chunk's version; StaleVersion if it would go backwards.</summary>
    ValueTask SetVersionAsync(long handle, long version, CancellationToken cancellationToken = default);

    /// <summary>Deletes the chunk: the metadata first, the file after.</summary>
    ValueTask DeleteAsync(long handle, CancellationToken cancellationToken = default);

    /// <summary>The chunk's current state, or null.</summary>
    ChunkInfo? GetChunk(long handle);

    /// <summary>Every chunk with its version and length (for chunk reports).</summary>
    IReadOnlyList<ChunkInfo> ListChunks();

    ChunkStoreStats GetStats();

    /// <summary>
    /// Reads and verifies a whole chunk now. Returns null when it is intact, or the exception describing the damage
    /// (which is also raised through <see cref="CorruptChunkDetected"/>).
    /// </summary>
    ValueTask<ChunkStoreException?> VerifyAsync(long handle, CancellationToken cancellationToken = default);

    /// <summary>Starts the background scrubber (idle chunks, at the configured bandwidth).</summary>
    void StartScrubber();

    /// <summary>Stops the scrubber and waits for it.</summary>
    Task StopScrubberAsync();
}
