using System.Buffers;
using System.IO.Pipelines;
using Gfs.Client.Protocol;

namespace Gfs.Client.Transport;

/// <summary>
/// A download in progress: the reply header and the streamed bytes that follow it. Read the bytes
/// through <see cref="Body"/> or one of the CopyToAsync overloads, then dispose.
/// </summary>
/// <typeparam name="THeader">Type of the reply header.</typeparam>
public sealed class RpcDownload<THeader> : IAsyncDisposable
{
    private readonly PipeReader reader;
    private readonly HttpResponseMessage response;
    private readonly CancellationTokenSource deadline;
    private readonly Uri node;
    private readonly string route;
    private long remaining;

    internal RpcDownload(THeader header, long length, PipeReader reader, HttpResponseMessage response, CancellationTokenSource deadline, Uri node, string route)
    {
        Header = header;
        Length = length;
        remaining = length;
        this.reader = reader;
        this.response = response;
        this.deadline = deadline;
        this.node = node;
        this.route = route;
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
    /// Hands every received segment of data to <paramref name="sink"/> without copying it first.
    /// </summary>
    public async ValueTask CopyToAsync(Func<ReadOnlySequence<byte>, CancellationToken, ValueTask> sink, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sink);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        while (remaining > 0)
        {
            var buffer = await ReadSegmentAsync(linked.Token, cancellationToken).ConfigureAwait(false);
            // Lengths are taken before AdvanceTo: afterwards the pipe may recycle the segments.
            var length = Math.Min(buffer.Length, remaining);
            var take = buffer.Slice(0, length);
            try
            {
                await sink(take, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                reader.AdvanceTo(take.End);
            }

            remaining -= length;
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

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await reader.CompleteAsync().ConfigureAwait(false);
        response.Dispose();
        deadline.Dispose();
    }

    private async ValueTask<int> ReadIntoAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (remaining == 0 || destination.IsEmpty)
        {
            return 0;
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var buffer = await ReadSegmentAsync(linked.Token, cancellationToken).ConfigureAwait(false);
        var length = (int)Math.Min(Math.Min(buffer.Length, remaining), destination.Length);
        var take = buffer.Slice(0, length);
        take.CopyTo(destination.Span);
        reader.AdvanceTo(take.End);
        remaining -= length;
        return length;
    }

    /// <summary>Waits for data; a body that ends early is turned into the typed error in the trailers.</summary>
    private async ValueTask<ReadOnlySequence<byte>> ReadSegmentAsync(CancellationToken linkedToken, CancellationToken callerToken)
    {
        try
        {
            var read = await reader.ReadAsync(linkedToken).ConfigureAwait(false);
            if (!read.Buffer.IsEmpty)
            {
                return read.Buffer;
            }

            reader.AdvanceTo(read.Buffer.End);
            throw TrailerError();
        }
        catch (Exception e) when (RpcClient.MapFailure(e, node, route, callerToken) is { } mapped)
        {
            // A reset stream may still have delivered the server's trailers.
            throw TryTrailerError() ?? mapped;
        }
    }

    private GfsException TrailerError()
        => TryTrailerError() ?? new GfsException(ErrorCode.Unavailable, $"{route} on {node}: data ended after {Length - remaining} of {Length} bytes");

    private GfsException? TryTrailerError()
    {
        if (response.TrailingHeaders.TryGetValues(WireFormat.ErrorCodeTrailer, out var codes)
            && int.TryParse(codes.FirstOrDefault(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var code))
        {
            response.TrailingHeaders.TryGetValues(WireFormat.ErrorMessageTrailer, out var messages);
            var message = Uri.UnescapeDataString(messages?.FirstOrDefault() ?? ((ErrorCode)code).ToString());
            return new GfsException((ErrorCode)code, message);
        }

        return null;
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

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => owner.ReadIntoAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("a download stream cannot seek");

        public override void SetLength(long value) => throw new NotSupportedException("a download stream cannot change length");

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("a download stream is read-only");
    }
}
