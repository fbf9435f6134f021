using Gfs.Storage.Chunks;
using Gfs.Storage.Index;
using Gfs.Storage.Io;
using Gfs.Storage.Wal;

namespace Gfs.Storage;

// A chunk's life: create, set version, delete (the data mutations are in ChunkStore.Mutations.cs).
public sealed partial class ChunkStore
{
    /// <inheritdoc />
    public async ValueTask CreateAsync(long handle, long version, CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable();
        if (version < 0)
        {
            throw new ChunkStoreException(ChunkStoreError.InvalidArgument, "version must not be negative", handle);
        }

        var state = new ChunkState(handle, ChunkPath(handle));
        await state.Mutex.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (!chunks.TryAdd(handle, state))
            {
                if (chunks.TryGetValue(handle, out var other))
                {
                    if (other.Exists)
                    {
                        throw new ChunkStoreException(ChunkStoreError.AlreadyExists, $"chunk {handle:x16} already exists", handle);
                    }

                    // Being created or deleted: wait for that to finish, then look again.
                    await other.Mutex.WaitAsync(cancellationToken).ConfigureAwait(false);
                    other.Mutex.Release();
                }
            }

            try
            {
                ThrowIfUnusable();
                using var created = state.AdoptFile(File.OpenHandle(state.Path, FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete), openFiles);
                // A new empty file needs no data sync: the directory fsync makes its name and inode durable.
                await CommitAsync(new CommitRequest
                {
                    Chunk = state,
                    SyncDirectory = true,
                    Payload = WalRecord.EncodeCreate(handle, version),
                    Apply = () =>
                    {
                        state.Record = new ChunkRecord(version, 0, []);
                        state.LastMutation = time.GetTimestamp();
                        state.Exists = true;
                    },
                }).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                chunks.TryRemove(KeyValuePair.Create(handle, state));
                openFiles.Close(state);
                TryDelete(state.Path);
                if (e is IOException io)
                {
                    throw Posix.IsNoSpace(io)
                        ? new ChunkStoreException(ChunkStoreError.NoSpace, $"no space to create chunk {handle:x16}", handle, inner: io)
                        : MarkFailed($"creating chunk {handle:x16} failed: {io.Message}", io);
                }

                throw;
            }
        }
        finally
        {
            state.Mutex.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask SetVersionAsync(long handle, long version, CancellationToken cancellationToken = default)
    {
        var state = await LockExistingAsync(handle, cancellationToken).ConfigureAwait(false);
        try
        {

            var record = state.Record;
            if (version < record.Version)
            {
                throw new ChunkStoreException(ChunkStoreError.StaleVersion, $"chunk {handle:x16} is at version {record.Version}; {version} would go backwards", handle);
            }

            if (version == record.Version)
            {
                return;
            }

            var next = new ChunkRecord(version, record.Length, record.Checksums);
            var payload = new byte[WalRecord.UpdateSize(0)];
            WalRecord.Encode(payload, handle, version, record.Length, 0, [], 0, default, overwrite: false);
            await CommitAsync(new CommitRequest
            {
                Chunk = state,
                Payload = payload,
                Apply = () => state.Record = next,
            }).ConfigureAwait(false);
        }
        finally
        {
            state.Mutex.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DeleteAsync(long handle, CancellationToken cancellationToken = default)
    {
        var state = await LockExistingAsync(handle, cancellationToken).ConfigureAwait(false);
        try
        {

            await CommitAsync(new CommitRequest
            {
                Chunk = state,
                IsDelete = true,
                Payload = WalRecord.EncodeDelete(handle),
                Apply = () => state.Exists = false,
            }).ConfigureAwait(false);

            // Metadata first, unlink after: a crash in between leaves an orphan file, removed at start.
            await state.Gate.EnterWriteAsync().ConfigureAwait(false);
            openFiles.Close(state);
            state.Gate.ExitWrite();
            TryDelete(state.Path);
            chunks.TryRemove(KeyValuePair.Create(handle, state));
        }
        finally
        {
            state.Mutex.Release();
        }
    }
}
