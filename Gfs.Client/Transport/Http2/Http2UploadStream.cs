using Gfs.Client.Protocol;

namespace Gfs.Client.Transport.Http2;

/// <summary>
/// The stream an upload's data callback writes into. Each write goes out as DATA frames straight
/// from the caller's memory (no copy for h2c), within the server's frame size and windows. The
/// write that completes the declared length carries END_STREAM; writing more, or less, is an error.
/// </summary>
internal sealed class Http2UploadStream(Http2Connection connection, long length, CancellationToken exchangeToken) : Stream
{
    public long Written { get; private set; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException("write-only stream");

    public override long Position
    {
        get => Written;
        set => throw new NotSupportedException("write-only stream");
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return;
        }

        if (Written + buffer.Length > length)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"upload declared {length} bytes but wrote {Written + buffer.Length}");
        }

        Written += buffer.Length;
        var last = Written == length;

        // Every wait stays bounded by the call's deadline, whatever token the caller passes.
        if (!cancellationToken.CanBeCanceled || cancellationToken == exchangeToken)
        {
            await connection.SendDataAsync(buffer, last, exchangeToken).ConfigureAwait(false);
            return;
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(exchangeToken, cancellationToken);
        await connection.SendDataAsync(buffer, last, linked.Token).ConfigureAwait(false);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("write-only stream");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("write-only stream");

    public override void SetLength(long value) => throw new NotSupportedException("write-only stream");

    /// <summary>After the callback: checks the length and ends the stream if the last write did not.</summary>
    public async ValueTask FinishAsync(CancellationToken cancellationToken)
    {
        if (Written != length)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"upload declared {length} bytes but wrote {Written}");
        }

        if (!connection.LocalEnded)
        {
            await connection.SendDataAsync(ReadOnlyMemory<byte>.Empty, endStream: true, cancellationToken).ConfigureAwait(false);
        }
    }
}
