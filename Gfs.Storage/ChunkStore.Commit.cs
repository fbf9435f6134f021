using System.Threading.Channels;
using Gfs.Storage.Chunks;
using Gfs.Storage.Io;

namespace Gfs.Storage;

public sealed partial class ChunkStore
{
    // Owned by the committer task.
    private readonly HashSet<long> dirty = [];
    private readonly HashSet<long> removed = [];
    private long walBytesAtCheckpoint;
    private long walEndAtCheckpoint = -1;
    private long checkpointFailures;
    private long logCommits;
    private long chunkSyncs;

    /// <summary>Group commits written to the log (each one write and one fdatasync).</summary>
    internal long LogCommits => Interlocked.Read(ref logCommits);

    /// <summary>Chunk file fdatasyncs issued by group commits.</summary>
    internal long ChunkSyncs => Interlocked.Read(ref chunkSyncs);

    private int pendingCommits;

    /// <summary>Requests waiting for the committer.</summary>
    internal int PendingCommits => Volatile.Read(ref pendingCommits);

    /// <summary>Checkpoints that could not be written (the log is then kept longer).</summary>
    internal long CheckpointFailures => Interlocked.Read(ref checkpointFailures);

    internal Exception? LastCheckpointError { get; private set; }

    /// <summary>One metadata change waiting for the group commit.</summary>
    private sealed class CommitRequest
    {
        public static CommitRequest Checkpoint() => new() { IsCheckpoint = true };

        public bool IsCheckpoint { get; private init; }

        public ChunkState? Chunk { get; init; }

        /// <summary>
        /// When set, the chunk file holds new bytes that must be fdatasync'd through this handle (the one that wrote
        /// them, leased by the mutation until its commit ends) before the record is logged.
        /// </summary>
        public Microsoft.Win32.SafeHandles.SafeFileHandle? SyncData { get; init; }

        /// <summary>A chunk file was created: the chunk directory must be fsynced before the record is logged.</summary>
        public bool SyncDirectory { get; init; }

        public bool IsDelete { get; init; }

        public ReadOnlyMemory<byte> Payload { get; init; }

        /// <summary>Publishes the change in memory; runs on the committer after the log commit.</summary>
        public Action? Apply { get; init; }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Test seam: takes a checkpoint now (between two group commits) and waits for it.</summary>
    internal Task CheckpointNowAsync() => CommitAsync(CommitRequest.Checkpoint());

    /// <summary>Bytes of write-ahead log segment files on disk.</summary>
    internal long WalFileBytes => wal.FileBytes;

    private void RequestCheckpoint()
    {
        Interlocked.Increment(ref pendingCommits);
        if (!commits.Writer.TryWrite(CommitRequest.Checkpoint()))
        {
            Interlocked.Decrement(ref pendingCommits);
        }
    }

    /// <summary>Queues a change for the next group commit and waits until it is durable and published.</summary>
    private Task CommitAsync(CommitRequest request)
    {
        Interlocked.Increment(ref pendingCommits);
        if (!commits.Writer.TryWrite(request))
        {
            Interlocked.Decrement(ref pendingCommits);
            throw new ChunkStoreException(ChunkStoreError.Closed, "the chunk store is closed");
        }

        return request.Done.Task;
    }

    private async Task CommitLoopAsync()
    {
        var batch = new List<CommitRequest>();
        var payloads = new List<ReadOnlyMemory<byte>>();
        var synced = new Dictionary<ChunkState, Microsoft.Win32.SafeHandles.SafeFileHandle>();
        var checkpoints = new List<CommitRequest>();
        var reader = commits.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            try
            {
                await CommitRoundAsync(reader, batch, payloads, synced, checkpoints).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // Never let the committer die: callers would wait forever. An unexpected failure fails the store.
                var failed = MarkFailed("the committer failed: " + e.Message, e);
                foreach (var r in batch.Concat(checkpoints))
                {
                    r.Done.TrySetException(failed);
                }
            }
        }

        if (failure is null && !abandoned)
        {
            await CheckpointAsync().ConfigureAwait(false);
        }
    }

    private async Task CommitRoundAsync(ChannelReader<CommitRequest> reader, List<CommitRequest> batch, List<ReadOnlyMemory<byte>> payloads, Dictionary<ChunkState, Microsoft.Win32.SafeHandles.SafeFileHandle> synced, List<CommitRequest> checkpoints)
    {
        batch.Clear();
        checkpoints.Clear();
        long bytes = 0;
        while (bytes < 64L * 1024 * 1024 && reader.TryRead(out var r))
        {
            Interlocked.Decrement(ref pendingCommits);
            if (r.IsCheckpoint)
            {
                checkpoints.Add(r);
                continue;
            }

            batch.Add(r);
            bytes += r.Payload.Length;
        }

        if (batch.Count > 0)
        {
            CommitBatch(batch, payloads, synced);
        }

        if (failure is null && (checkpoints.Count > 0 || wal.BytesAppended - walBytesAtCheckpoint >= options.CheckpointWalBytes))
        {
            await CheckpointAsync().ConfigureAwait(false);
        }

        foreach (var c in checkpoints)
        {
            c.Done.TrySetResult();
        }
    }

    private void CommitBatch(List<CommitRequest> batch, List<ReadOnlyMemory<byte>> payloads, Dictionary<ChunkState, Microsoft.Win32.SafeHandles.SafeFileHandle> synced)
    {
        if (failure is { } reason)
        {
            var refused = new ChunkStoreException(ChunkStoreError.DiskFailed, "the chunk store has failed and refuses mutations: " + reason);
            foreach (var r in batch)
            {
                r.Done.TrySetException(refused);
            }

            return;
        }

        try
        {
            // 1. The chunks' new bytes, each file once per batch (group commit). Several files are synced in
            //    parallel so the file system can fold them into one journal commit.
            synced.Clear();
            var syncDirectory = false;
            foreach (var r in batch)
            {
                syncDirectory |= r.SyncDirectory;
                if (r.SyncData is { } file && r.Chunk is { } c)
                {
                    synced.TryAdd(c, file);
                }
            }

            var failedSync = 0;
            var failedHandle = 0L;
            void Sync(KeyValuePair<ChunkState, Microsoft.Win32.SafeHandles.SafeFileHandle> c)
            {
                var rc = Posix.DataSync(c.Value, Failpoints.ChunkSync, faults);
                if (rc != 0)
                {
                    Interlocked.Exchange(ref failedHandle, c.Key.Handle);
                    Interlocked.Exchange(ref failedSync, rc);
                }
            }

            if (synced.Count == 1)
            {
                Sync(synced.First());
            }
            else if (synced.Count > 1)
            {
                Parallel.ForEach(synced, new ParallelOptions { MaxDegreeOfParallelism = 32 }, Sync);
            }

            if (failedSync != 0)
            {
                throw MarkFailed($"fdatasync of chunk {failedHandle:x16} failed: errno {failedSync}");
            }

            if (syncDirectory)
            {
                var rc = Posix.SyncDirectory(chunkDirectory);
                if (rc != 0)
                {
                    throw MarkFailed($"fsync of {chunkDirectory} failed: errno {rc}");
                }
            }

            // 2. The metadata, one log write and one fdatasync for the whole batch.
            payloads.Clear();
            foreach (var r in batch)
            {
                payloads.Add(r.Payload);
            }

            wal.Append(payloads);
            Interlocked.Increment(ref logCommits);
            Interlocked.Add(ref chunkSyncs, synced.Count);
        }
        catch (ChunkStoreException e)
        {
            if (e.Error == ChunkStoreError.DiskFailed)
            {
                MarkFailed(e.Message, e);
            }

            foreach (var r in batch)
            {
                r.Done.TrySetException(e);
            }

            return;
        }
        catch (Exception e)
        {
            var failed = MarkFailed("commit failed: " + e.Message, e);
            foreach (var r in batch)
            {
                r.Done.TrySetException(failed);
            }

            return;
        }

        // 3. Publish, then acknowledge.
        foreach (var r in batch)
        {
            r.Apply?.Invoke();
            if (r.Chunk is { } c)
            {
                if (r.IsDelete)
                {
                    dirty.Remove(c.Handle);
                    removed.Add(c.Handle);
                }
                else
                {
                    dirty.Add(c.Handle);
                }
            }

            r.Done.TrySetResult();
        }
    }

    /// <summary>
    /// Checkpoints the index at the current log end. Runs on the committer between batches, so the published
    /// state is exactly the log up to that position.
    /// </summary>
    private async Task CheckpointAsync()
    {
        if (Volatile.Read(ref overwritesInFlight) > 0)
        {
            return; // an overwrite's redo record must outlive its in-place write
        }

        var position = wal.EndAddress;
        if (dirty.Count == 0 && removed.Count == 0 && position == walEndAtCheckpoint)
        {
            return;
        }

        var upserts = new List<Index.IndexUpsert>();
        var deletes = new List<long>();
        foreach (var handle in dirty.Concat(removed).Distinct())
        {
            if (chunks.TryGetValue(handle, out var s) && s.Exists)
            {
                upserts.Add(new(handle, s.Record, s.Appends));
            }
            else
            {
                deletes.Add(handle);
            }
        }

        try
        {
            var truncateTo = await index.CheckpointAsync(upserts, deletes, position, CancellationToken.None).ConfigureAwait(false);
            dirty.Clear();
            removed.Clear();
            walBytesAtCheckpoint = wal.BytesAppended;
            walEndAtCheckpoint = position;
            wal.TruncateBefore(truncateTo);
        }
        catch (ChunkStoreException e) when (e.Error == ChunkStoreError.DiskFailed)
        {
            MarkFailed("index checkpoint failed: " + e.Message, e);
        }
        catch (Exception e)
        {
            // A checkpoint that could not be written (for example on a full disk) leaves the log longer; the next retries.
            walBytesAtCheckpoint = wal.BytesAppended;
            Interlocked.Increment(ref checkpointFailures);
            LastCheckpointError = e;
        }
    }
}
