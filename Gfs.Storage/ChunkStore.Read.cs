using System.Buffers;
using System.Threading.Channels;
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
    /// Reads whole blocks in windows: one task reads the windows in file order (one sequential stream for kernel
    /// readahead) into a ring of buffers, while the caller verifies each window's blocks and hands it to the sink,
    /// in order, only after every block in it was verified. Copying and checksumming so run on two cores.
    /// </summary>
    private async ValueTask<long> ReadVerifiedAsync(ChunkState state, long offset, long length, Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask> sink, CancellationToken cancellationToken)
    {
        const int Depth = 3;
        await state.Gate.EnterReadAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!state.Exists)
            {
                throw ChunkStoreException.NotFound(state.Handle);
            }

            var record = state.Record;
            if (offset < 0 || offset > record.Length)
            {
                throw new ChunkStoreException(ChunkStoreError.OutOfRange, $"offset {offset} is outside chunk {state.Handle:x16} of length {record.Length}", state.Handle);
            }

            var end = Math.Min(record.Length, offset + Math.Min(length, record.Length));
            if (end <= offset)
            {
                return 0;
            }

            var file = FileOf(state);
            var window = options.ReadWindow;
            var first = offset / Block * Block;
            var stop = Math.Min(record.Length, (end + Block - 1) / Block * Block);
            var windows = (int)((stop - first + window - 1) / window);
            var depth = Math.Min(Depth, windows);
            var free = Channel.CreateBounded<byte[]>(depth);
            var filled = Channel.CreateBounded<Window>(new BoundedChannelOptions(depth) { SingleReader = true, SingleWriter = true });
            for (var i = 0; i < depth; i++)
            {
                free.Writer.TryWrite(ArrayPool<byte>.Shared.Rent(window));
            }

            using var stopReader = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var reader = Task.Run(
                async () =>
                {
                    try
                    {
                        for (var pos = first; pos < stop; pos += window)
                        {
                            var buffer = await free.Reader.ReadAsync(stopReader.Token).ConfigureAwait(false);
                            var size = (int)Math.Min(window, stop - pos);
                            var n = ReadRest(file, buffer.AsSpan(0, size), pos);
                            await filled.Writer.WriteAsync(new Window(buffer, pos, size, n), stopReader.Token).ConfigureAwait(false);
                        }

                        filled.Writer.TryComplete();
                    }
                    catch (Exception e)
                    {
                        filled.Writer.TryComplete(e);
                    }
                },
                CancellationToken.None);
            try
            {
                while (await filled.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    while (filled.Reader.TryRead(out var w))
                    {
                        try
                        {
                            Verify(state, record, w.Buffer.AsSpan(0, w.Read), w.Position, w.Size);
                            var from = (int)(Math.Max(offset, w.Position) - w.Position);
                            var to = (int)(Math.Min(end, w.Position + w.Size) - w.Position);
                            await sink(w.Buffer.AsMemory(from, to - from), cancellationToken).ConfigureAwait(false);
                        }
                        finally
                        {
                            free.Writer.TryWrite(w.Buffer);
                        }
                    }
                }
            }
            finally
            {
                // Buffers go back to the pool only once the reader can no longer write into them.
                await stopReader.CancelAsync().ConfigureAwait(false);
                await reader.ConfigureAwait(false);
                while (free.Reader.TryRead(out var b))
                {
                    ArrayPool<byte>.Shared.Return(b);
                }

                while (filled.Reader.TryRead(out var w))
                {
                    ArrayPool<byte>.Shared.Return(w.Buffer);
                }
            }

            return end - offset;
        }
        finally
        {
            state.Gate.ExitRead();
        }
    }

    private readonly record struct Window(byte[] Buffer, long Position, int Size, int Read);

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
