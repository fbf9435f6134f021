using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Gfs.Client.Transport.Http2;

/// <summary>Socket and TLS input and output, and the frames we send.</summary>
internal sealed partial class Http2Connection
{
    /// <summary>
    /// Sends the request's HEADERS (with CONTINUATION frames when the block exceeds the server's
    /// frame size) and, in the same write when it fits the windows, a first DATA frame.
    /// </summary>
    public async ValueTask SendHeadersAsync(ReadOnlyMemory<byte> block, ReadOnlyMemory<byte> data, bool endStream, CancellationToken cancellationToken)
    {
        var frames = (block.Length / peerMaxFrameSize) + 1;
        var dataInline = !data.IsEmpty && data.Length <= Math.Min(Math.Min(connectionSendWindow, streamSendWindow), peerMaxFrameSize);
        var size = block.Length + (frames * FrameHeader.Size) + (dataInline ? FrameHeader.Size + data.Length : 0);
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var at = 0;
            var rest = block.Span;
            var first = true;
            var headersEndStream = endStream && data.IsEmpty;
            do
            {
                var n = Math.Min(rest.Length, peerMaxFrameSize);
                var last = n == rest.Length;
                var type = first ? FrameType.Headers : FrameType.Continuation;
                var flags = (byte)((last ? FrameFlags.EndHeaders : 0) | (first && headersEndStream ? FrameFlags.EndStream : 0));
                FrameHeader.Write(buffer.AsSpan(at), n, type, flags, activeStream);
                rest[..n].CopyTo(buffer.AsSpan(at + FrameHeader.Size));
                at += FrameHeader.Size + n;
                rest = rest[n..];
                first = false;
            }
            while (!rest.IsEmpty);

            if (dataInline)
            {
                FrameHeader.Write(buffer.AsSpan(at), data.Length, FrameType.Data, endStream ? FrameFlags.EndStream : FrameFlags.None, activeStream);
                data.Span.CopyTo(buffer.AsSpan(at + FrameHeader.Size));
                at += FrameHeader.Size + data.Length;
                connectionSendWindow -= data.Length;
                streamSendWindow -= data.Length;
            }

            await SendAsync(buffer.AsMemory(0, at), cancellationToken).ConfigureAwait(false);
            localEnded = headersEndStream || (dataInline && endStream);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (!dataInline && !data.IsEmpty)
        {
            await SendDataAsync(data, endStream, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends <paramref name="data"/> as DATA frames of at most the server's frame size, within the
    /// connection and stream send windows, waiting for WINDOW_UPDATE when they are spent. For h2c,
    /// each frame is one gather send of its header and the caller's bytes, without a copy.
    /// </summary>
    public async ValueTask SendDataAsync(ReadOnlyMemory<byte> data, bool endStream, CancellationToken cancellationToken)
    {
        if (localEnded)
        {
            throw new InvalidOperationException("the request stream has already ended");
        }

        while (true)
        {
            if (sendAbandoned)
            {
                return; // the server has its answer and asked for no more
            }

            if (data.IsEmpty)
            {
                if (endStream)
                {
                    await SendDataFrameAsync(ReadOnlyMemory<byte>.Empty, endStream: true, cancellationToken).ConfigureAwait(false);
                    localEnded = true;
                }

                return;
            }

            var window = Math.Min(connectionSendWindow, streamSendWindow);
            if (window <= 0)
            {
                await WaitForWindowAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            var n = (int)Math.Min(Math.Min(window, peerMaxFrameSize), data.Length);
            var last = endStream && n == data.Length;
            await SendDataFrameAsync(data[..n], last, cancellationToken).ConfigureAwait(false);
            connectionSendWindow -= n;
            streamSendWindow -= n;
            data = data[n..];
            if (last)
            {
                localEnded = true;
                return;
            }
        }
    }

    /// <summary>Reads frames until a window opens; an early reply is buffered for the reader.</summary>
    private async ValueTask WaitForWindowAsync(CancellationToken cancellationToken)
    {
        if (streamFailure is not null)
        {
            throw streamFailure;
        }

        await ProcessFrameAsync(cancellationToken).ConfigureAwait(false);
        if (dataRemaining > 0)
        {
            await BufferDataFrameAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask SendDataFrameAsync(ReadOnlyMemory<byte> payload, bool endStream, CancellationToken cancellationToken)
    {
        FrameHeader.Write(dataFrameHeader, payload.Length, FrameType.Data, endStream ? FrameFlags.EndStream : FrameFlags.None, activeStream);
        if (payload.IsEmpty)
        {
            await SendAsync(dataFrameHeader, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (ssl is null && MemoryMarshal.TryGetArray(payload, out var segment))
        {
            await GatherSendAsync(segment, cancellationToken).ConfigureAwait(false);
            return;
        }

        // TLS (the record layer copies anyway) or memory that is not an array: two writes.
        await SendAsync(dataFrameHeader, cancellationToken).ConfigureAwait(false);
        await SendAsync(payload, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The frame header and the payload in one sendmsg. The list overload takes no token, so cancellation closes the socket.</summary>
    private async ValueTask GatherSendAsync(ArraySegment<byte> payload, CancellationToken cancellationToken)
    {
        gather[0] = new ArraySegment<byte>(dataFrameHeader);
        gather[1] = payload;
        int sent;
        try
        {
            using (cancellationToken.UnsafeRegister(static state => ((Http2Connection)state!).Dispose(), this))
            {
                sent = await socket.SendAsync(gather, SocketFlags.None).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            IsBroken = true;
            cancellationToken.ThrowIfCancellationRequested();
            throw Failure("sending", e);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var total = FrameHeader.Size + payload.Count;
        if (sent < total)
        {
            // Not expected from a stream socket's async send, but finish the frame if it happens.
            var rest = sent < FrameHeader.Size
                ? (ReadOnlyMemory<byte>)dataFrameHeader.AsMemory(sent)
                : ReadOnlyMemory<byte>.Empty;
            if (!rest.IsEmpty)
            {
                await SendAsync(rest, cancellationToken).ConfigureAwait(false);
            }

            await SendAsync(payload.AsMemory(Math.Max(0, sent - FrameHeader.Size)), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Credits consumed bytes back to the server in batches: at half of each window.</summary>
    private async ValueTask SendWindowUpdatesAsync(CancellationToken cancellationToken)
    {
        var at = 0;
        if (connectionUnacked >= Http2ClientSettings.ConnectionReceiveWindow / 2)
        {
            WriteWindowUpdate(control.AsSpan(at), 0, connectionUnacked);
            connectionReceiveWindow += connectionUnacked;
            connectionUnacked = 0;
            at += FrameHeader.Size + 4;
        }

        if (activeStream != 0 && !remoteEnded && streamUnacked >= settings.StreamReceiveWindow / 2)
        {
            WriteWindowUpdate(control.AsSpan(at), activeStream, streamUnacked);
            streamReceiveWindow += streamUnacked;
            streamUnacked = 0;
            at += FrameHeader.Size + 4;
        }

        if (at > 0)
        {
            await SendAsync(control.AsMemory(0, at), cancellationToken).ConfigureAwait(false);
        }
    }

    private static void WriteWindowUpdate(Span<byte> destination, int streamId, int increment)
    {
        FrameHeader.Write(destination, 4, FrameType.WindowUpdate, FrameFlags.None, streamId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[FrameHeader.Size..], (uint)increment);
    }

    private async ValueTask SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        try
        {
            if (ssl is null)
            {
                while (!bytes.IsEmpty)
                {
                    var n = await socket.SendAsync(bytes, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                    bytes = bytes[n..];
                }
            }
            else
            {
                await ssl.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            IsBroken = true;
            cancellationToken.ThrowIfCancellationRequested();
            throw Failure("sending", e);
        }
    }

    private async ValueTask<int> ReceiveSomeAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            return ssl is null
                ? await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false)
                : await ssl.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            IsBroken = true;
            cancellationToken.ThrowIfCancellationRequested();
            throw Failure("receiving", e);
        }
    }

    private async ValueTask ReceiveExactAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            var n = await ReceiveSomeAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw ClosedByPeer();
            }

            buffer = buffer[n..];
        }
    }

    private async ValueTask DiscardAsync(int length, CancellationToken cancellationToken)
    {
        if (length == 0)
        {
            return;
        }

        var scratch = ArrayPool<byte>.Shared.Rent(Math.Min(length, 64 * 1024));
        try
        {
            while (length > 0)
            {
                var n = Math.Min(length, scratch.Length);
                await ReceiveExactAsync(scratch.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                length -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private Exception Failure(string what, Exception e)
    {
        if (e is Http2ConnectionException)
        {
            return e;
        }

        // Connection refused, reset or closed under us: the call may be retried only where the request is known not to be processed.
        var notProcessed = activeStream != 0 && Reused && !streamHeard && what == "sending" && !localEnded;
        return new Http2ConnectionException($"{what} on the connection to {Endpoint} failed: {e.Message}", notProcessed, e);
    }
}
