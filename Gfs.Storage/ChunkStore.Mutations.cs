using System.Buffers;
using Gfs.Storage.Checksums;
using Gfs.Storage.Chunks;
using Gfs.Storage.Index;
using Gfs.Storage.Io;
using Gfs.Storage.Wal;
using Microsoft.Win32.SafeHandles;

namespace Gfs.Storage;

public sealed partial class ChunkStore
{
    /// <inheritdoc />
    public async ValueTask WriteAsync(long handle, long offset, ReadOnlyMemory<byte> data, long expectedVersion, CancellationToken cancellationToken = default) =>
        await MutateAsync(handle, offset, data, expectedVersion, append: false, identity: null, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask WriteAsync(long handle, long offset, ReadOnlyMemory<byte> data, long expectedVersion, AppendId append, CancellationToken cancellationToken = default) =>
        await MutateAsync(handle, offset, data, expectedVersion, append: false, identity: append, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public ValueTask<long> AppendAsync(long handle, ReadOnlyMemory<byte> data, long expectedVersion, CancellationToken cancellationToken = default) =>
        MutateAsync(handle, -1, data, expectedVersion, append: true, identity: null, cancellationToken);

    /// <inheritdoc />
    public ValueTask<long> AppendAsync(long handle, ReadOnlyMemory<byte> data, long expectedVersion, AppendId append, CancellationToken cancellationToken = default) =>
        MutateAsync(handle, -1, data, expectedVersion, append: true, identity: append, cancellationToken);

    /// <inheritdoc />
    public long? FindAppend(long handle, long clientId, long sequence) =>
        chunks.TryGetValue(handle, out var state) && state.Exists ? state.Appends?.Find(clientId, sequence) : null;

    /// <summary>
    /// Takes the chunk's mutex and checks, under it, that the store is usable and the chunk still
    /// exists (a delete may have won the race). The caller releases the mutex.
    /// </summary>
    private async ValueTask<ChunkState> LockExistingAsync(long handle, CancellationToken cancellationToken)
    {
        ThrowIfUnusable();
        var state = GetExisting(handle);
        await state.Mutex.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfUnusable();
            return state.Exists ? state : throw ChunkStoreException.NotFound(handle);
        }
        catch
        {
            state.Mutex.Release();
            throw;
        }
    }

    private async ValueTask<long> MutateAsync(long handle, long offset, ReadOnlyMemory<byte> data, long expectedVersion, bool append, AppendId? identity, CancellationToken cancellationToken)
    {
        var state = await LockExistingAsync(handle, cancellationToken).ConfigureAwait(false);
        try
        {

            var record = state.Record;
            if (record.Version != expectedVersion)
            {
                throw new ChunkStoreException(ChunkStoreError.StaleVersion, $"chunk {handle:x16} is at version {record.Version}, the caller expected {expectedVersion}", handle);
            }

            if (append)
            {
                offset = record.Length;
            }

            if (offset < 0 || offset > record.Length)
            {
                throw new ChunkStoreException(ChunkStoreError.OutOfRange, $"offset {offset} is outside chunk {handle:x16} of length {record.Length}", handle);
            }

            var end = offset + data.Length;
            if (end > options.ChunkSize)
            {
                throw new ChunkStoreException(ChunkStoreError.OutOfRange, $"writing {data.Length} bytes at {offset} passes the chunk size {options.ChunkSize}", handle);
            }

            if (identity is { } id)
            {
                // An identity names a record appended at the end, once: the table maps it to that one offset.
                if (offset != record.Length || data.Length == 0)
                {
                    throw new ChunkStoreException(ChunkStoreError.InvalidArgument, $"a record-append identity goes with bytes appended at the end of chunk {handle:x16} ({record.Length}), not {data.Length} bytes at {offset}", handle);
                }

                if (state.Appends?.Find(id.ClientId, id.Sequence) is { } known)
                {
                    throw new ChunkStoreException(ChunkStoreError.AlreadyExists, $"chunk {handle:x16} holds the append ({id.ClientId}, {id.Sequence}) at {known} already", handle);
                }
            }

            if (data.Length == 0)
            {
                return offset;
            }

            // One lease for the whole mutation: the descriptor that writes is the one that syncs.
            using var lease = LeaseFile(state);
            var file = lease.Handle;
            var newLength = Math.Max(end, record.Length);
            var firstBlock = (int)(offset / Block);
            var lastBlock = (int)((end - 1) / Block);
            var crcs = new uint[ChunkRecord.BlockCount(newLength)];
            record.Checksums.CopyTo(crcs, 0);

            // A large append checksums its bytes on another core while they are written (nothing reads the file for it).
            Task? checksums = null;
            if (offset == record.Length && data.Length >= ParallelChecksumBytes)
            {
                checksums = Task.Run(() => ComputeChecksums(state, file, record, offset, data.Span, crcs, firstBlock, lastBlock), CancellationToken.None);
            }
            else
            {
                ComputeChecksums(state, file, record, offset, data.Span, crcs, firstBlock, lastBlock);
            }

            var next = new ChunkRecord(record.Version, newLength, crcs);
            var changed = crcs.AsMemory(firstBlock, lastBlock - firstBlock + 1);

            try
            {
                // Reserve the new space first, so a full disk is reported before any byte changes.
                if (end > record.Length)
                {
                    var rc = Posix.Reserve(file, record.Length, end - record.Length, Failpoints.ChunkAllocate, faults);
                    if (rc != 0)
                    {
                        if (Posix.IsNoSpace(rc))
                        {
                            throw new ChunkStoreException(ChunkStoreError.NoSpace, $"no space to write {data.Length} bytes to chunk {handle:x16}", handle);
                        }

                        throw MarkFailed($"fallocate of chunk {handle:x16} failed: errno {rc}");
                    }
                }

                if (offset == record.Length)
                {
                    WriteAppendedBytes(state, file, record, offset, data);
                }
            }
            finally
            {
                // The caller may reuse its buffer once we return, so the checksum task is always awaited.
                if (checksums is not null)
                {
                    await checksums.ConfigureAwait(false);
                }
            }

            if (offset == record.Length)
            {
                await CommitAppendAsync(state, file, record, next, firstBlock, changed, identity).ConfigureAwait(false);
            }
            else
            {
                await OverwriteBytesAsync(state, file, next, offset, data, firstBlock, changed).ConfigureAwait(false);
            }

            return offset;
        }
        finally
        {
            state.Mutex.Release();
        }
    }

    private const int ParallelChecksumBytes = 1024 * 1024;

    /// <summary>
    /// Bytes past the committed end go to the file first; a crash leaves a longer file, cut at start. The aligned
    /// head goes around the page cache (O_DIRECT) when it can, the rest through it; the following fdatasync is still
    /// needed for the file's metadata (allocation, size) and the device's cache. Any failure cuts the file back.
    /// </summary>
    private void WriteAppendedBytes(ChunkState state, SafeFileHandle file, ChunkRecord record, long offset, ReadOnlyMemory<byte> data)
    {
        try
        {
            var direct = TryWriteDirect(state, offset, data);
            if (direct < data.Length)
            {
                var injected = faults?.Check(Failpoints.ChunkWrite) ?? 0;
                if (injected != 0)
                {
                    throw new IOException($"injected write failure: errno {injected}", injected);
                }

                RandomAccess.Write(file, data.Span[direct..], offset + direct);
            }
        }
        catch (IOException e)
        {
            Truncate(file, record.Length);
            if (Posix.IsNoSpace(e))
            {
                throw new ChunkStoreException(ChunkStoreError.NoSpace, $"no space to write chunk {state.Handle:x16}", state.Handle, inner: e);
            }

            throw MarkFailed($"write to chunk {state.Handle:x16} failed: {e.Message}", e);
        }
    }

    /// <summary>Then fdatasync (grouped), log (with the record-append identity, if any, in the same record), publish.</summary>
    private async Task CommitAppendAsync(ChunkState state, SafeFileHandle file, ChunkRecord record, ChunkRecord next, int firstBlock, ReadOnlyMemory<uint> changed, AppendId? identity)
    {
        byte[] payload;
        if (identity is { } id)
        {
            payload = new byte[WalRecord.AppendSize(changed.Length)];
            WalRecord.EncodeAppend(payload, state.Handle, next.Version, next.Length, firstBlock, changed.Span, record.Length, id);
        }
        else
        {
            payload = new byte[WalRecord.UpdateSize(changed.Length)];
            WalRecord.Encode(payload, state.Handle, next.Version, next.Length, firstBlock, changed.Span, 0, default, overwrite: false);
        }

        try
        {
            await CommitAsync(new CommitRequest
            {
                Chunk = state,
                SyncData = file,
                Payload = payload,
                Apply = () =>
                {
                    state.Record = next;
                    state.LastMutation = time.GetTimestamp();
                    if (identity is { } id)
                    {
                        (state.Appends ??= new AppendTable()).Add(new AppendEntry(id.ClientId, id.Sequence, record.Length));
                    }
                },
            }).ConfigureAwait(false);
        }
        catch (ChunkStoreException e) when (e.Error == ChunkStoreError.NoSpace)
        {
            Truncate(file, record.Length);
            throw;
        }
    }

    /// <summary>
    /// Bytes inside committed data: the log record carries the bytes (redo), so once it is durable the in-place
    /// write can be repeated at start; readers are held off while checksums and bytes change together.
    /// </summary>
    private async Task OverwriteBytesAsync(ChunkState state, SafeFileHandle file, ChunkRecord next, long offset, ReadOnlyMemory<byte> data, int firstBlock, ReadOnlyMemory<uint> changed)
    {
        var size = WalRecord.OverwriteSize(changed.Length, data.Length);
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        WalRecord.Encode(buffer, state.Handle, next.Version, next.Length, firstBlock, changed.Span, offset, data.Span, overwrite: true);
        Interlocked.Increment(ref overwritesInFlight);
        await state.Gate.EnterWriteAsync().ConfigureAwait(false);
        try
        {
            await CommitAsync(new CommitRequest
            {
                Chunk = state,
                Payload = buffer.AsMemory(0, size),
                Apply = () =>
                {
                    state.Record = next;
                    state.LastMutation = time.GetTimestamp();
                },
            }).ConfigureAwait(false);

            if (faults?.Check(Failpoints.CrashBeforeInPlaceWrite) is > 0)
            {
                throw MarkFailed("injected crash between the overwrite's log commit and its in-place write");
            }

            try
            {
                RandomAccess.Write(file, data.Span, offset);
            }
            catch (IOException e)
            {
                throw MarkFailed($"in-place write to chunk {state.Handle:x16} failed: {e.Message}", e);
            }

            var rc = Posix.DataSync(file, Failpoints.ChunkSync, faults);
            if (rc != 0)
            {
                throw MarkFailed($"fdatasync of chunk {state.Handle:x16} failed: errno {rc}");
            }
        }
        finally
        {
            state.Gate.ExitWrite();
            Interlocked.Decrement(ref overwritesInFlight);
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// New checksums of the blocks [firstBlock, lastBlock]. A block only partly covered by the write keeps bytes
    /// from the file: those are verified first, so a damaged block is never blessed with a fresh checksum.
    /// </summary>
    private void ComputeChecksums(ChunkState state, SafeFileHandle file, ChunkRecord record, long offset, ReadOnlySpan<byte> data, uint[] crcs, int firstBlock, int lastBlock)
    {
        var end = offset + data.Length;
        var newLength = Math.Max(end, record.Length);
        byte[]? scratch = null;
        try
        {
            for (var b = firstBlock; b <= lastBlock; b++)
            {
                long blockStart = (long)b * Block;
                var blockEnd = Math.Min(blockStart + Block, newLength);
                var from = Math.Max(offset, blockStart);
                var to = Math.Min(end, blockEnd);
                var slice = data[(int)(from - offset)..(int)(to - offset)];
                if (from == blockStart && to == blockEnd)
                {
                    crcs[b] = Crc32C.Compute(slice);
                }
                else if (from == record.Length && to == blockEnd)
                {
                    crcs[b] = Crc32C.Append(record.Checksums[b], slice);
                }
                else
                {
                    scratch ??= ArrayPool<byte>.Shared.Rent(Block);
                    var oldEnd = Math.Min(blockStart + Block, record.Length);
                    var old = scratch.AsSpan(0, (int)(oldEnd - blockStart));
                    var read = ReadFully(file, old, blockStart);
                    if (read < old.Length || Crc32C.Compute(old) != record.Checksums[b])
                    {
                        var reason = "bytes kept by a partial overwrite do not match their checksum";
                        ReportCorrupt(state, b, reason);
                        throw ChunkStoreException.Mismatch(state.Handle, b, reason);
                    }

                    slice.CopyTo(scratch.AsSpan((int)(from - blockStart)));
                    crcs[b] = Crc32C.Compute(scratch.AsSpan(0, (int)(blockEnd - blockStart)));
                }
            }
        }
        finally
        {
            if (scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }
    }

    /// <summary>The chunk file's handle with a reference taken (dispose it); a missing file is reported as corruption.</summary>
    private HandleLease LeaseFile(ChunkState state)
    {
        try
        {
            return state.LeaseFile(openFiles);
        }
        catch (FileNotFoundException e)
        {
            const string reason = "the chunk file is missing";
            ReportCorrupt(state, null, reason);
            throw new ChunkStoreException(ChunkStoreError.ChecksumMismatch, $"chunk {state.Handle:x16}: {reason}", state.Handle, 0, e);
        }
    }

    private static int ReadFully(SafeFileHandle file, Span<byte> destination, long offset)
    {
        var total = 0;
        while (total < destination.Length)
        {
            var n = RandomAccess.Read(file, destination[total..], offset + total);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    private static void Truncate(SafeFileHandle file, long length)
    {
        try
        {
            RandomAccess.SetLength(file, length);
        }
        catch (IOException)
        {
            // The committed length is what counts; a longer file is cut at the next start.
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }
}
