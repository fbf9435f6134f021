using System.Buffers;
using Gfs.Client.Protocol;
using Gfs.Client.Transport.Http2;

namespace Gfs.Client.Transport;

/// <summary>
/// A download in progress: the reply header and the streamed bytes that follow it. Read the bytes
/// with <see cref="ReadAsync"/> (straight into your buffer), through <see cref="Body"/>, or with one
/// of the CopyToAsync overloads, then dispose. Not safe for concurrent use.
/// </summary>
/// <typeparam name="THeader">Type of the reply header.</typeparam>
public sealed class RpcDownload<THeader> : IAsyncDisposable
{
    private readonly Http2Connection connection;
    private readonly Http2DataClient client;
    private readonly CancellationTokenSource deadline;
    private readonly Uri node;
    private readonly string route;
    private readonly int copyBufferBytes;
    private long remaining;
    private bool failed;
    private bool disposed;

    internal RpcDownload(THeader header, long length, Http2Connection connection, Http2DataClient client, CancellationTokenSource deadline, Uri node, string route, int copyBufferBytes)
    {
        Header = header;
        Length = length;
        remaining = length;
        this.connection = connection;
        this.client = client;
        this.deadline = deadline;
        this.node = node;
        this.route = route;
        this.copyBufferBytes = copyBufferBytes;
        Body = new DownloadStream(this);
    }

    /// <summary>The reply header.</summary>
    public THeader Header { get; }

    /// <summary>Number of data bytes the server declared.</summary>
    public long Length { get; }

    /// <summary>Data bytes not yet read.</summary>
    public long Remaining => remaining;

    /// <summary>A read-only stream of the data. It ends after <see cref="Length"/> bytes.</summary>
    public Stream Body { get; }

    /// <summary>
    /// Reads the next data bytes into <paramref name="destination"/> and returns how many were read:
    /// at least one while <see cref="Remaining"/> is above zero, and zero once every byte was read.
    /// Over h2c the bytes are received from the socket straight into <paramref name="destination"/>.
    /// </summary>
    /// <param name="destination">Where the bytes go.</param>
    /// <param name="cancellationToken">Cancels the read and the download; the server sees the cancellation.</param>
    /// <exception cref="GfsException">The data stopped early: the server's typed error from the trailers (for example <see cref="ErrorCode.ChecksumMismatch"/>), or <see cref="ErrorCode.Unavailable"/>; <see cref="ErrorCode.DeadlineExceeded"/> when the call's deadline passed.</exception>
    public async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (remaining == 0 || destination.IsEmpty)
        {
            return 0;
        }

        if (failed)
        {
            throw new GfsException(ErrorCode.Unavailable, $"{route} on {node}: the download already failed");
        }

        if (destination.Length > remaining)
        {
            destination = destination[..(int)remaining];
        }

        CancellationTokenSource? linked = null;
        var token = deadline.Token;
        if (cancellationToken.CanBeCanceled && cancellationToken != token)
        {
            linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, token);
            token = linked.Token;
        }

        try
        {
            var n = await connection.ReadDataAsync(destination, token).ConfigureAwait(false);
            if (n == 0)
            {
                throw TrailerError();
            }

            remaining -= n;
            return n;
        }
        catch (Exception e)
        {
            failed = true;
            connection.Abort();
            if (e is GfsException)
            {
                throw;
            }

            // A reset stream may still have delivered the server's trailers.
            if (TryTrailerError() is { } typed)
            {
                throw typed;
            }

            if (RpcClient.MapFailure(e, node, route, cancellationToken) is { } mapped)
            {
                throw mapped;
            }

            throw;
        }
        finally
        {
            linked?.Dispose();
        }
    }

    /// <summary>
    /// Hands the data to <paramref name="sink"/> in pieces, each valid only during the call. The
    /// pieces pass through one pooled buffer; <see cref="ReadAsync"/> into your own buffer saves that copy.
    /// </summary>
    public async ValueTask CopyToAsync(Func<ReadOnlySequence<byte>, CancellationToken, ValueTask> sink, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sink);
        if (remaining == 0)
        {
            return;
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(remaining, copyBufferBytes));
        try
        {
            while (remaining > 0)
            {
                var n = await ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                await sink(new ReadOnlySequence<byte>(buffer, 0, n), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Copies the data into <paramref name="destination"/>.</summary>
    public ValueTask CopyToAsync(Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        return CopyToAsync(
            async (segment, ct) =>
            {
                foreach (var memory in segment)
                {
                    await destination.WriteAsync(memory, ct).ConfigureAwait(false);
                }
            },
            cancellationToken);
    }

    /// <summary>
    /// Releases the connection: back to the pool when every byte was read and the stream ended
    /// cleanly; otherwise the stream is reset (the server sees the cancellation) and the connection closed.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        if (remaining == 0 && !failed)
        {
            await client.FinishAsync(connection, node, deadline.Token).ConfigureAwait(false);
        }
        else
        {
            connection.Abort();
        }

        deadline.Dispose();
    }

    private GfsException TrailerError()
        => TryTrailerError() ?? new GfsException(ErrorCode.Unavailable, $"{route} on {node}: data ended after {Length - remaining} of {Length} bytes");

    private GfsException? TryTrailerError()
    {
        if (connection.Trailers is not { } trailers)
        {
            return null;
        }

        string? codeText = null;
        string? message = null;
        foreach (var (name, value) in trailers)
        {
            if (name == WireFormat.ErrorCodeTrailer)
            {
                codeText ??= value;
            }
            else if (name == WireFormat.ErrorMessageTrailer)
            {
                message ??= value;
            }
        }

        if (!int.TryParse(codeText, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var code))
        {
            return null;
        }

        return new GfsException((ErrorCode)code, Uri.UnescapeDataString(message ?? ((ErrorCode)code).ToString()));
    }

    private sealed class DownloadStream(RpcDownload<THeader> owner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => owner.Length;

        public override long Position
        {
            get => owner.Length - owner.remaining;
            set => throw new NotSupportedException("a download stream cannot seek");
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => owner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("a download stream cannot seek");

        public override void SetLength(long value) => throw new NotSupportedException("a download stream cannot change length");

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("a download stream is read-only");
    }
}
