using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using Gfs.Storage.Chunks;
using Gfs.Storage.Index;
using Gfs.Storage.Io;
using Gfs.Storage.Wal;

namespace Gfs.Storage;

/// <summary>
/// The chunk store: one flat file per chunk under <c>chunks/</c>, a metadata write-ahead log under <c>wal/</c>
/// and a FASTER index checkpoint under <c>index/</c>. See docs/storage.md for the formats and the durability order.
/// </summary>
public sealed partial class ChunkStore : IChunkStore
{
    private const string ChunkExtension = ".chunk";
    private const int Block = ChunkStoreOptions.BlockSize;

    private readonly ChunkStoreOptions options;
    private readonly TimeProvider time;
    private readonly Failpoints? faults;
    private readonly string chunkDirectory;
    private readonly ConcurrentDictionary<long, ChunkState> chunks = new();
    private readonly IChunkIndex index;
    private readonly WriteAheadLog wal;
    private readonly Channel<CommitRequest> commits = Channel.CreateUnbounded<CommitRequest>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task committer;
    private readonly ITimer checkpointTimer;
    private readonly OpenFileCache openFiles;
    private volatile string? failure;
    private volatile bool closed;
    private int overwritesInFlight;
    private volatile bool abandoned;

    private ChunkStore(ChunkStoreOptions options, TimeProvider time, IChunkIndex index, WriteAheadLog wal, Dictionary<long, ChunkState> states, HashSet<long> replayed, HashSet<long> replayedDeletes)
    {
        this.options = options;
        this.time = time;
        faults = options.Failpoints;
        chunkDirectory = Path.Combine(options.Directory, "chunks");
        this.index = index;
        this.wal = wal;
        openFiles = new OpenFileCache(options.MaxOpenFiles);
        foreach (var (handle, state) in states)
        {
            chunks[handle] = state;
        }

        dirty.UnionWith(replayed);
        removed.UnionWith(replayedDeletes);
        committer = Task.Run(CommitLoopAsync);
        checkpointTimer = time.CreateTimer(_ => RequestCheckpoint(), null, options.CheckpointInterval, options.CheckpointInterval);
        if (dirty.Count > 0 || removed.Count > 0)
        {
            RequestCheckpoint();
        }
    }

    /// <inheritdoc />
    public event EventHandler<CorruptChunkEventArgs>? CorruptChunkDetected;

    /// <summary>Chunks whose files are open now (bounded by <see cref="ChunkStoreOptions.MaxOpenFiles"/>).</summary>
    internal int OpenChunkFiles => openFiles.Count;

    /// <summary>Chunks whose files were closed to stay within <see cref="ChunkStoreOptions.MaxOpenFiles"/>.</summary>
    internal long OpenFileEvictions => openFiles.Evictions;

    /// <summary>Largest chunk this store accepts.</summary>
    public long ChunkSize => options.ChunkSize;

    /// <summary>Why the store failed, or null while it is healthy.</summary>
    public string? FailureReason => failure;

    private string ChunkPath(long handle) =>
        Path.Combine(chunkDirectory, handle.ToString("x16", CultureInfo.InvariantCulture) + ChunkExtension);

    private void ThrowIfClosed()
    {
        if (closed)
        {
            throw new ChunkStoreException(ChunkStoreError.Closed, "the chunk store is closed");
        }
    }

    private void ThrowIfUnusable()
    {
        ThrowIfClosed();
        if (failure is { } reason)
        {
            throw new ChunkStoreException(ChunkStoreError.DiskFailed, "the chunk store has failed and refuses mutations: " + reason);
        }
    }

    /// <summary>A failed sync or write is fatal for the disk: never acknowledge, never retry and continue.</summary>
    private ChunkStoreException MarkFailed(string reason, Exception? inner = null)
    {
        failure ??= reason;
        return new ChunkStoreException(ChunkStoreError.DiskFailed, reason, inner: inner);
    }

    private ChunkState GetExisting(long handle)
    {
        if (chunks.TryGetValue(handle, out var state) && state.Exists)
        {
            return state;
        }

        throw ChunkStoreException.NotFound(handle);
    }

    private void ReportCorrupt(ChunkState state, int? block, string reason)
    {
        state.Corrupt = true;
        state.CorruptReason = reason;
        state.CorruptReported = true;
        try
        {
            CorruptChunkDetected?.Invoke(this, new CorruptChunkEventArgs(state.Handle, state.Record.Version, block, reason));
        }
        catch (Exception)
        {
            // A subscriber's failure must not turn a detected corruption into a different error.
        }
    }

    /// <inheritdoc />
    public ChunkInfo? GetChunk(long handle) =>
        chunks.TryGetValue(handle, out var s) && s.Exists ? Info(s) : null;

    private static ChunkInfo Info(ChunkState s)
    {
        var r = s.Record;
        return new ChunkInfo(s.Handle, r.Version, r.Length, s.Corrupt);
    }

    /// <inheritdoc />
    public IReadOnlyList<ChunkInfo> ListChunks() =>
        chunks.Values.Where(s => s.Exists).Select(Info).OrderBy(c => c.Handle).ToList();

    /// <inheritdoc />
    public ChunkStoreStats GetStats()
    {
        long count = 0, bytes = 0, corrupt = 0;
        foreach (var s in chunks.Values)
        {
            if (!s.Exists)
            {
                continue;
            }

            count++;
            bytes += s.Record.Length;
            corrupt += s.Corrupt ? 1 : 0;
        }

        var drive = new DriveInfo(Path.GetFullPath(options.Directory));
        return new ChunkStoreStats(count, bytes, drive.AvailableFreeSpace, drive.TotalSize, corrupt, failure is not null);
    }

    /// <summary>
    /// Test seam for crash tests in one process: stops like a kill -9 would (no final checkpoint, nothing
    /// flushed that was not already synced) and releases the files so the directory can be opened again.
    /// </summary>
    internal async Task AbandonAsync()
    {
        abandoned = true;
        await DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (closed)
        {
            return;
        }

        closed = true;
        await StopScrubberAsync().ConfigureAwait(false);
        await checkpointTimer.DisposeAsync().ConfigureAwait(false);

        // Mutations in flight finish (or fail) before the log closes.
        foreach (var state in chunks.Values)
        {
            await state.Mutex.WaitAsync().ConfigureAwait(false);
        }

        commits.Writer.TryComplete();
        await committer.ConfigureAwait(false);
        wal.Dispose();
        index.Dispose();
        foreach (var state in chunks.Values)
        {
            openFiles.Close(state);
            state.Mutex.Release(); // callers still waiting see Closed
        }
    }
}
