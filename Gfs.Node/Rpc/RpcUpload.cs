using System.Buffers;
using System.IO.Pipelines;
using Gfs.Client.Protocol;

namespace Gfs.Node.Rpc;

/// <summary>
/// The streamed bytes of an upload request. The handler reads them segment by segment straight
/// from Kestrel's buffers; nothing is materialised as one array.
/// </summary>
public sealed class RpcUpload
{
    private readonly PipeReader reader;
    private long remaining;

    internal RpcUpload(PipeReader reader, long length)
    {
        this.reader = reader;
        Length = length;
        remaining = length;
    }

    /// <summary>Number of bytes the caller declared.</summary>
    public long Length { get; }

    /// <summary>Bytes not yet consumed.</summary>
    public long Remaining => remaining;

    /// <summary>
    /// Hands every received segment to <paramref name="sink"/> until all <see cref="Length"/> bytes
    /// are consumed. The segments are valid only during the call.
    /// </summary>
    public async ValueTask ConsumeAsync(Func<ReadOnlySequence<byte>, CancellationToken, ValueTask> sink, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sink);
        while (remaining > 0)
        {
            var read = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = read.Buffer;
            if (buffer.IsEmpty && read.IsCompleted)
            {
                throw new GfsException(ErrorCode.MalformedMessage, $"upload ended after {Length - remaining} of {Length} bytes");
            }

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

    /// <summary>Reads up to <paramref name="destination"/>.Length bytes; returns 0 at the end of the data.</summary>
    public async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (remaining == 0 || destination.IsEmpty)
        {
            return 0;
        }

        var read = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (read.Buffer.IsEmpty && read.IsCompleted)
        {
            throw new GfsException(ErrorCode.MalformedMessage, $"upload ended after {Length - remaining} of {Length} bytes");
        }

        var length = (int)Math.Min(Math.Min(read.Buffer.Length, remaining), destination.Length);
        var take = read.Buffer.Slice(0, length);
        take.CopyTo(destination.Span);
        reader.AdvanceTo(take.End);
        remaining -= length;
        return length;
    }
}
