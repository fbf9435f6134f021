using System.Buffers;
using System.Runtime.ExceptionServices;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;

namespace Gfs.Client.Data;

/// <summary>
/// Writes a file sequentially from a start offset: bytes are buffered into pooled pieces of at most
/// <see cref="GfsClientOptions.PieceSize"/> that never cross a chunk boundary; each full piece is
/// leased, pushed and committed while the next one fills, up to
/// <see cref="GfsClientOptions.WritePiecesInFlight"/> pieces at once. Commits happen strictly in
/// offset order, so the acknowledged end only grows contiguously. A failure is sticky.
/// </summary>
internal sealed class FileWriter : GfsWriteStream
{
    private readonly ClientCore core;
    private readonly string path;
    private readonly long fileId;
    private readonly int chunkSize;
    private readonly SemaphoreSlim inFlight;
    private byte[]? buffer;
    private long bufferStart;
    private int bufferLength;
    private int bufferCapacity;
    private long position;
    private long acknowledged;
    private long reportedLength;
    private Task lastCommit = Task.CompletedTask;
    private Task lastLeased = Task.CompletedTask;
    private ExceptionDispatchInfo? failure;
    private bool failureSeen;
    private bool disposed;

    /// <summary>A writer of the file <paramref name="fileId"/> (its inode id) at <paramref name="path"/>, from <paramref name="start"/>.</summary>
    public FileWriter(ClientCore core, string path, long fileId, int chunkSize, long start)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        this.core = core;
        this.path = path;
        this.fileId = fileId;
        this.chunkSize = chunkSize;
        position = start;
        acknowledged = start;
        reportedLength = start;
        inFlight = new SemaphoreSlim(core.Options.WritePiecesInFlight);
    }

    public override string Path => path;

    public override long Acknowledged => Volatile.Read(ref acknowledged);

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => !disposed;

    public override long Length => position;

    public override long Position
    {
        get => position;
        set => throw new NotSupportedException("a Gfs write stream only appends at its end");
    }

    /// <summary>Where a piece starting at <paramref name="offset"/> must end: the piece size or the chunk boundary, whichever is first.</summary>
    internal static int PieceCapacity(long offset, int chunkSize, int pieceSize)
        => (int)Math.Min(pieceSize, chunkSize - (offset % chunkSize));

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable();
        while (!data.IsEmpty)
        {
            if (buffer is null)
            {
                bufferStart = position;
                bufferCapacity = PieceCapacity(position, chunkSize, core.Options.PieceSize);
                buffer = ArrayPool<byte>.Shared.Rent(bufferCapacity);
                bufferLength = 0;
            }

            var n = Math.Min(bufferCapacity - bufferLength, data.Length);
            data.Span[..n].CopyTo(buffer.AsSpan(bufferLength));
            bufferLength += n;
            position += n;
            data = data[n..];
            if (bufferLength == bufferCapacity)
            {
                await SubmitAsync(cancellationToken).ConfigureAwait(false);
                ThrowIfUnusable();
            }
        }
    }

    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>Waits until every byte written is acknowledged by every replica, then records the file's length.</summary>
    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        ThrowIfUnusable();
        if (buffer is not null && bufferLength > 0)
        {
            await SubmitAsync(cancellationToken).ConfigureAwait(false);
        }

        await WaitAllAsync(cancellationToken).ConfigureAwait(false);
        ThrowIfFailed();
        var end = Acknowledged;
        if (end > reportedLength)
        {
            await core.Data.SetLengthAsync(path, fileId, end, cancellationToken).ConfigureAwait(false);
            core.Lengths.Reported(path, fileId, end);
            reportedLength = end;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("a Gfs write stream cannot read");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("a Gfs write stream cannot seek");

    public override void SetLength(long value) => throw new NotSupportedException("a Gfs write stream cannot change its length");

    public override async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        try
        {
            if (failure is null)
            {
                await FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                await WaitAllAsync(CancellationToken.None).ConfigureAwait(false);
                if (!failureSeen)
                {
                    failureSeen = true;
                    failure.Throw();
                }
            }
        }
        finally
        {
            disposed = true;
            ReturnBuffer();
            inFlight.Dispose();
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !disposed)
        {
            DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        base.Dispose(disposing);
    }

    private async ValueTask SubmitAsync(CancellationToken cancellationToken)
    {
        await inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
        var piece = new Piece(buffer!, bufferStart, bufferLength);
        buffer = null;
        bufferLength = 0;
        var leased = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lastCommit = RunPieceAsync(piece, lastCommit, lastLeased, leased);
        lastLeased = leased.Task;
    }

    private async Task RunPieceAsync(Piece piece, Task previousCommit, Task previousLeased, TaskCompletionSource leased)
    {
        try
        {
            // Leases are taken in piece order, so chunk i is allocated before chunk i + 1.
            await previousLeased.ConfigureAwait(false);
            var index = (int)(piece.Start / chunkSize);
            var offset = piece.Start % chunkSize;
            await core.MutateChunkAsync(
                path,
                fileId,
                index,
                allocate: offset == 0,
                piece.Buffer.AsMemory(0, piece.Length),
                async (lease, data, ct) =>
                {
                    var request = new WriteRequest { Handle = lease.Handle, Version = lease.Version, Offset = offset, DataId = data.DataId, Length = piece.Length, Data = data.Inline, Crc32C = data.Crc32C };
                    var reply = await core.Data.WriteAsync(lease.PrimaryUri, request, ct).ConfigureAwait(false);
                    return (reply, reply.FailedReplicas);
                },
                leased: () => leased.TrySetResult(),
                beforeCommit: () => previousCommit,
                CancellationToken.None).ConfigureAwait(false);

            var end = piece.Start + piece.Length;
            Volatile.Write(ref acknowledged, end);
            if (end % chunkSize == 0)
            {
                core.Lengths.Report(path, fileId, end);
            }
        }
        catch (Exception e)
        {
            leased.TrySetResult();
            Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(piece.Buffer);
            try
            {
                inFlight.Release();
            }
            catch (ObjectDisposedException)
            {
                // The stream was disposed while this piece finished.
            }
        }
    }

    private async Task WaitAllAsync(CancellationToken cancellationToken)
    {
        try
        {
            await lastCommit.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (failure is not null)
        {
            // Reported through the sticky failure.
        }
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ThrowIfFailed();
    }

    private void ThrowIfFailed()
    {
        if (failure is { } f)
        {
            failureSeen = true;
            throw new GfsException(
                f.SourceException is GfsException g ? g.Code : ErrorCode.Internal,
                $"{path}: an earlier write failed; bytes after {Acknowledged} are not acknowledged: {f.SourceException.Message}",
                f.SourceException);
        }
    }

    private void ReturnBuffer()
    {
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = null;
        }
    }

    private readonly record struct Piece(byte[] Buffer, long Start, int Length);
}
