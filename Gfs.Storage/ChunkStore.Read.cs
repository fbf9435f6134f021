using System.Buffers;
using Gfs.Storage.Checksums;
using Gfs.Storage.Chunks;

namespace Gfs.Storage;

public sealed partial class ChunkStore
{
    /// <inheritdoc />
    public async ValueTask<int> ReadAsync(long handle, long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        var copy = new CopySink(destination);
        await ReadAsync(handle, offset, destination.Length, copy.WriteAsync, cancellationToken).ConfigureAwait(false);
        return copy.Written;
    }

    private sealed class CopySink(Memory<byte> destination)
    {
        public int Written { get; private set; }

        public ValueTask WriteAsync(ReadOnlyMemory<byte> segment, CancellationToken cancellationToken)
        {
            segment.Span.CopyTo(destination.Span[Written..]);
            Written += segment.Length;
            return default;
        }
    }

    /// <inheritdoc />
    public ValueTask<long> ReadAsync(long handle, long offset, long length, Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask> sink, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ThrowIfClosed();
        if (length < 0)
        {
            throw new ChunkStoreException(ChunkStoreError.InvalidArgument, "length must not be negative", handle);
        }

        return ReadVerifiedAsync(GetExisting(handle), offset, length, sink, cancellationToken);
    }

    /// <summary>
    /// Reads whole blocks window by window on the calling thread: read a window (1 MiB, so it stays in the core's
    /// cache), verify each of its blocks, hand it to the sink, and only then read the next. Kernel readahead keeps
    /// the disk busy meanwhile. A two-thread pipeline (one core copying, the other checksumming) was measured
    /// too: faster on an idle machine, but several times slower when other processes compete for the two cores,
    /// because every window then waits for a thread wake-up (docs/benchmarks.md).
    /// </summary>
    /// <remarks>
    /// Only the read and the verification of a window hold the chunk's read gate, never the sink: a sink may take
    /// as long as its network peer likes (it flushes to an HTTP/2 response), and an overwrite or a delete of the
    /// chunk, which waits for the gate's readers (and meanwhile keeps new readers out), must not wait for it. So
    /// each window is read under the gate against the record current then (an overwrite in between is served as
    /// of the window's read; lengths only grow, so the range stays committed, and a last block that grew is
    /// verified over its new length), and the chunk's existence is checked again: a read that spans a delete ends
    /// with NotFound instead of serving a deleted chunk. The window's buffer is the one copy out of the file, as before.
    /// </remarks>
    private async ValueTask<long> ReadVerifiedAsync(ChunkState state, long offset, long length, Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask> sink, CancellationToken cancellationToken)
    {
        var window = options.ReadWindow;
        var buffer = ArrayPool<byte>.Shared.Rent(window);
        try
        {
            var end = -1L;
            for (var pos = offset / Block * Block; end < 0 || pos < end; pos += window)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await state.Gate.EnterReadAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    if (!state.Exists)
                    {
                        throw ChunkStoreException.NotFound(state.Handle);
                    }

                    var record = state.Record;
                    if (end < 0)
                    {
                        if (offset < 0 || offset > record.Length)
                        {
                            throw new ChunkStoreException(ChunkStoreError.OutOfRange, $"offset {offset} is outside chunk {state.Handle:x16} of length {record.Length}", state.Handle);
                        }

                        end = Math.Min(record.Length, offset + Math.Min(length, record.Length));
                        if (end <= offset)
                        {
                            return 0;
                        }
                    }

                    var stop = Math.Min(record.Length, (end + Block - 1) / Block * Block);
                    var size = (int)Math.Min(window, stop - pos);
                    using var lease = LeaseFile(state);
                    var n = ReadRest(lease.Handle, buffer.AsSpan(0, size), pos);
                    Verify(state, record, buffer.AsSpan(0, n), pos, size);
                }
                finally
                {
                    state.Gate.ExitRead();
                }

                var from = (int)(Math.Max(offset, pos) - pos);
                var to = (int)(Math.Min(end, pos + window) - pos);
                await sink(buffer.AsMemory(from, to - from), cancellationToken).ConfigureAwait(false);
            }

            return end - offset;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int ReadRest(Microsoft.Win32.SafeHandles.SafeFileHandle file, Span<byte> destination, long offset)
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

    /// <summary>Checks each block of a window; <paramref name="expected"/> is what the file should have held.</summary>
    private void Verify(ChunkState state, Index.ChunkRecord record, ReadOnlySpan<byte> bytes, long pos, int expected)
    {
        for (var at = 0; at < expected; at += Block)
        {
            var block = (int)((pos + at) / Block);
            var len = Math.Min(Block, expected - at);
            string? reason = null;
            if (at + len > bytes.Length)
            {
                reason = "the chunk file is shorter than its committed length";
            }
            else if (Crc32C.Compute(bytes.Slice(at, len)) != record.Checksums[block])
            {
                reason = "checksum mismatch";
            }

            if (reason is not null)
            {
                ReportCorrupt(state, block, reason);
                throw ChunkStoreException.Mismatch(state.Handle, block, reason);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask<ChunkStoreException?> VerifyAsync(long handle, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        var state = GetExisting(handle);
        return await VerifyStateAsync(state, static (_, _) => default, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<ChunkStoreException?> VerifyStateAsync(ChunkState state, Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask> sink, CancellationToken cancellationToken)
    {
        if (state.Corrupt && state.CorruptReason is { } known && known.Contains("missing", StringComparison.Ordinal))
        {
            return new ChunkStoreException(ChunkStoreError.ChecksumMismatch, $"chunk {state.Handle:x16}: {known}", state.Handle, 0);
        }

        try
        {
            await ReadVerifiedAsync(state, 0, long.MaxValue, sink, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (ChunkStoreException e) when (e.Error == ChunkStoreError.ChecksumMismatch)
        {
            return e;
        }
    }
}
