using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using Gfs.Client.Protocol;

namespace Gfs.Client.Transport;

/// <summary>
/// An upload body: <c>[header, bin32 data]</c> with the data streamed from a callback, so a 64 MiB
/// chunk never sits in memory as one array. The content length is exact, which lets the server
/// refuse an oversize body before reading it.
/// </summary>
internal sealed class UploadContent<THeader> : HttpContent
{
    private readonly byte[] prefix;
    private readonly long length;
    private readonly Func<Stream, CancellationToken, ValueTask> writeData;

    public UploadContent(THeader header, long length, Func<Stream, CancellationToken, ValueTask> writeData, MediaTypeHeaderValue contentType)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Envelope.WriteUploadPrefix(buffer, header, length);
        prefix = buffer.WrittenSpan.ToArray();
        this.length = length;
        this.writeData = writeData;
        Headers.ContentType = contentType;
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(prefix, cancellationToken).ConfigureAwait(false);
        var counting = new CountingWriteStream(stream);
        await writeData(counting, cancellationToken).ConfigureAwait(false);
        if (counting.Written != length)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"upload declared {length} bytes but wrote {counting.Written}");
        }
    }

    protected override bool TryComputeLength(out long computed)
    {
        computed = prefix.Length + length;
        return true;
    }

    /// <summary>Counts what the caller writes so a short or long body is caught before it is sent as valid.</summary>
    private sealed class CountingWriteStream(Stream inner) : Stream
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

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("write-only stream");

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("write-only stream");

        public override void SetLength(long value) => throw new NotSupportedException("write-only stream");

        public override void Write(byte[] buffer, int offset, int count)
        {
            Written += count;
            inner.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Written += buffer.Length;
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
