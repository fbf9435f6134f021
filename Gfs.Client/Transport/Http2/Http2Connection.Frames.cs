using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;

namespace Gfs.Client.Transport.Http2;

/// <summary>Reading and handling incoming frames.</summary>
internal sealed partial class Http2Connection
{
    /// <summary>
    /// Reads one frame and handles it. A DATA frame of the current stream is only started: its
    /// payload is left on the connection (<see cref="dataRemaining"/>) for the reader to take.
    /// </summary>
    private async ValueTask ProcessFrameAsync(CancellationToken cancellationToken)
    {
        var header = await ReadFrameHeaderAsync(cancellationToken).ConfigureAwait(false);
        switch (header.Type)
        {
            case FrameType.Data:
                await StartDataFrameAsync(header, cancellationToken).ConfigureAwait(false);
                break;
            case FrameType.Headers:
                await HandleHeadersAsync(header, cancellationToken).ConfigureAwait(false);
                break;
            case FrameType.Priority:
                if (header.StreamId == 0)
                {
                    throw ProtocolError("PRIORITY on stream 0");
                }

                await DiscardAsync(header.Length, cancellationToken).ConfigureAwait(false);
                break;
            case FrameType.RstStream:
                await HandleResetAsync(header, cancellationToken).ConfigureAwait(false);
                break;
            case FrameType.Settings:
                await HandleSettingsAsync(header, cancellationToken).ConfigureAwait(false);
                break;
            case FrameType.PushPromise:
                throw ProtocolError("PUSH_PROMISE although push is disabled");
            case FrameType.Ping:
                await HandlePingAsync(header, cancellationToken).ConfigureAwait(false);
                break;
            case FrameType.GoAway:
                await HandleGoAwayAsync(header, cancellationToken).ConfigureAwait(false);
                break;
            case FrameType.WindowUpdate:
                await HandleWindowUpdateAsync(header, cancellationToken).ConfigureAwait(false);
                break;
            case FrameType.Continuation:
                throw ProtocolError("CONTINUATION without HEADERS");
            default:
                // Unknown frame types are ignored (RFC 9113 §4.1).
                await DiscardAsync(header.Length, cancellationToken).ConfigureAwait(false);
                break;
        }
    }

    private async ValueTask<FrameHeader> ReadFrameHeaderAsync(CancellationToken cancellationToken)
    {
        await ReceiveExactAsync(frameHeader, cancellationToken).ConfigureAwait(false);
        var header = FrameHeader.Read(frameHeader);
        if (header.Length > settings.MaxFrameSize)
        {
            throw ProtocolError($"a {header.Type} frame of {header.Length} bytes exceeds our SETTINGS_MAX_FRAME_SIZE of {settings.MaxFrameSize}");
        }

        return header;
    }

    private async ValueTask StartDataFrameAsync(FrameHeader header, CancellationToken cancellationToken)
    {
        if (header.StreamId == 0)
        {
            throw ProtocolError("DATA on stream 0");
        }

        if (header.Length > connectionReceiveWindow)
        {
            throw ProtocolError($"DATA of {header.Length} bytes exceeds the connection window of {connectionReceiveWindow} (FLOW_CONTROL_ERROR)");
        }

        connectionReceiveWindow -= header.Length;
        if (header.StreamId != activeStream)
        {
            if (header.StreamId > lastStreamId)
            {
                throw ProtocolError($"DATA on stream {header.StreamId}, which was never opened");
            }

            // A stream we already closed (reset): the bytes still count against the connection window.
            await DiscardAsync(header.Length, cancellationToken).ConfigureAwait(false);
            connectionUnacked += header.Length;
            await SendWindowUpdatesAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        streamHeard = true;
        if (response is null)
        {
            throw ProtocolError("DATA before the response HEADERS");
        }

        if (remoteEnded)
        {
            throw ProtocolError("DATA after END_STREAM (STREAM_CLOSED)");
        }

        if (header.Length > streamReceiveWindow)
        {
            throw ProtocolError($"DATA of {header.Length} bytes exceeds the stream window of {streamReceiveWindow} (FLOW_CONTROL_ERROR)");
        }

        streamReceiveWindow -= header.Length;
        var padding = 0;
        var length = header.Length;
        if (header.HasFlag(FrameFlags.Padded))
        {
            if (length < 1)
            {
                throw ProtocolError("a PADDED DATA frame without its pad length");
            }

            await ReceiveExactAsync(control.AsMemory(0, 1), cancellationToken).ConfigureAwait(false);
            padding = control[0];
            length -= 1;
            if (padding > length)
            {
                throw ProtocolError("DATA padding longer than the frame");
            }

            length -= padding;
        }

        dataRemaining = length;
        padRemaining = padding;
        frameFlowLength = header.Length;
        frameEndsStream = header.HasFlag(FrameFlags.EndStream);
        bodyReceived += length;
        if (length == 0)
        {
            await FinishDataFrameAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask HandleHeadersAsync(FrameHeader header, CancellationToken cancellationToken)
    {
        if (header.StreamId == 0)
        {
            throw ProtocolError("HEADERS on stream 0");
        }

        var block = new ArrayBufferWriter<byte>(Math.Max(header.Length, 256));
        var payload = ArrayPool<byte>.Shared.Rent(Math.Max(header.Length, 1));
        try
        {
            await ReceiveExactAsync(payload.AsMemory(0, header.Length), cancellationToken).ConfigureAwait(false);
            var fragment = payload.AsSpan(0, header.Length);
            if (header.HasFlag(FrameFlags.Padded))
            {
                if (fragment.Length < 1 || fragment[0] > fragment.Length - 1)
                {
                    throw ProtocolError("HEADERS padding longer than the frame");
                }

                fragment = fragment[1..^fragment[0]];
            }

            if (header.HasFlag(FrameFlags.Priority))
            {
                if (fragment.Length < 5)
                {
                    throw ProtocolError("HEADERS with PRIORITY shorter than 5 bytes");
                }

                fragment = fragment[5..];
            }

            block.Write(fragment);
            var endHeaders = header.HasFlag(FrameFlags.EndHeaders);
            while (!endHeaders)
            {
                // A header block is contiguous: only CONTINUATION of the same stream may follow (RFC 9113 §6.10).
                var next = await ReadFrameHeaderAsync(cancellationToken).ConfigureAwait(false);
                if (next.Type != FrameType.Continuation || next.StreamId != header.StreamId)
                {
                    throw ProtocolError($"{next.Type} on stream {next.StreamId} inside a header block of stream {header.StreamId}");
                }

                if (block.WrittenCount + next.Length > settings.MaxHeaderListBytes)
                {
                    throw ProtocolError($"a header block larger than {settings.MaxHeaderListBytes} bytes");
                }

                await ReceiveExactAsync(block.GetMemory(next.Length)[..next.Length], cancellationToken).ConfigureAwait(false);
                block.Advance(next.Length);
                endHeaders = next.HasFlag(FrameFlags.EndHeaders);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(payload);
        }

        // Every block is decoded, whatever its stream, so that the dynamic table stays in step.
        var fields = new List<(string Name, string Value)>();
        try
        {
            decoder.Decode(block.WrittenSpan, fields);
        }
        catch (HpackException e)
        {
            throw ProtocolError($"COMPRESSION_ERROR: {e.Message}");
        }

        if (header.StreamId != activeStream)
        {
            if (header.StreamId > lastStreamId)
            {
                throw ProtocolError($"HEADERS on stream {header.StreamId}, which was never opened");
            }

            return; // a stream we already reset
        }

        streamHeard = true;
        if (remoteEnded)
        {
            throw ProtocolError("HEADERS after END_STREAM (STREAM_CLOSED)");
        }

        var endStream = header.HasFlag(FrameFlags.EndStream);
        if (response is null)
        {
            var status = ParseResponseHead(fields, out var contentType, out var contentLength);
            if (status < 200)
            {
                if (endStream)
                {
                    throw ProtocolError($"an informational {status} response ends the stream");
                }

                return; // 1xx: the real response follows
            }

            response = new ResponseHead(status, contentType, contentLength);
        }
        else
        {
            if (!endStream)
            {
                throw ProtocolError("trailers without END_STREAM");
            }

            trailers = fields;
        }

        if (endStream)
        {
            MarkRemoteEnded();
        }
    }

    private int ParseResponseHead(List<(string Name, string Value)> fields, out string? contentType, out long? contentLength)
    {
        int? status = null;
        contentType = null;
        contentLength = null;
        foreach (var (name, value) in fields)
        {
            switch (name)
            {
                case ":status":
                    if (value.Length != 3 || !int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || status is not null)
                    {
                        throw ProtocolError($"invalid :status '{value}'");
                    }

                    status = parsed;
                    break;
                case "content-type":
                    contentType = value;
                    break;
                case "content-length":
                    if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var length))
                    {
                        throw ProtocolError($"invalid content-length '{value}'");
                    }

                    contentLength = length;
                    break;
                default:
                    if (name.StartsWith(':'))
                    {
                        throw ProtocolError($"response pseudo-header {name}");
                    }

                    break;
            }
        }

        return status ?? throw ProtocolError("a response without :status");
    }

    private async ValueTask HandleResetAsync(FrameHeader header, CancellationToken cancellationToken)
    {
        if (header.StreamId == 0)
        {
            throw ProtocolError("RST_STREAM on stream 0");
        }

        if (header.Length != 4)
        {
            throw ProtocolError($"RST_STREAM of {header.Length} bytes (FRAME_SIZE_ERROR)");
        }

        await ReceiveExactAsync(control.AsMemory(0, 4), cancellationToken).ConfigureAwait(false);
        var code = (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(control);
        if (header.StreamId != activeStream)
        {
            return;
        }

        streamHeard = true;
        IsBroken = true; // never reuse a connection after a reset
        if (code == Http2ErrorCode.NoError && remoteEnded)
        {
            // The server answered before reading the whole request and asks us to stop sending (RFC 9113 §8.1).
            sendAbandoned = true;
            return;
        }

        streamFailure = new Http2ConnectionException($"{Endpoint} reset the stream ({code})", notProcessed: code == Http2ErrorCode.RefusedStream);
        throw streamFailure;
    }

    private async ValueTask HandleSettingsAsync(FrameHeader header, CancellationToken cancellationToken)
    {
        if (header.StreamId != 0)
        {
            throw ProtocolError("SETTINGS on a stream");
        }

        if (header.HasFlag(FrameFlags.Ack))
        {
            if (header.Length != 0)
            {
                throw ProtocolError("SETTINGS ACK with a payload (FRAME_SIZE_ERROR)");
            }

            return;
        }

        if (header.Length % 6 != 0)
        {
            throw ProtocolError($"SETTINGS of {header.Length} bytes (FRAME_SIZE_ERROR)");
        }

        var payload = ArrayPool<byte>.Shared.Rent(Math.Max(header.Length, 1));
        try
        {
            await ReceiveExactAsync(payload.AsMemory(0, header.Length), cancellationToken).ConfigureAwait(false);
            for (var at = 0; at < header.Length; at += 6)
            {
                var id = (SettingId)BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(at));
                var value = BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(at + 2));
                ApplySetting(id, value);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(payload);
        }

        FrameHeader.Write(control, 0, FrameType.Settings, FrameFlags.Ack, 0);
        await SendAsync(control.AsMemory(0, FrameHeader.Size), cancellationToken).ConfigureAwait(false);
    }

    private void ApplySetting(SettingId id, uint value)
    {
        switch (id)
        {
            case SettingId.EnablePush when value > 1:
                throw ProtocolError($"SETTINGS_ENABLE_PUSH {value}");
            case SettingId.MaxConcurrentStreams:
                peerMaxConcurrentStreams = value;
                break;
            case SettingId.InitialWindowSize:
                if (value > int.MaxValue)
                {
                    throw ProtocolError($"SETTINGS_INITIAL_WINDOW_SIZE {value} (FLOW_CONTROL_ERROR)");
                }

                // A change applies to the open stream's send window as a delta (RFC 9113 §6.9.2).
                var delta = (long)value - peerInitialWindow;
                peerInitialWindow = (int)value;
                if (activeStream != 0)
                {
                    streamSendWindow += delta;
                    if (streamSendWindow > int.MaxValue)
                    {
                        throw ProtocolError("a SETTINGS_INITIAL_WINDOW_SIZE change overflows the stream window (FLOW_CONTROL_ERROR)");
                    }
                }

                break;
            case SettingId.MaxFrameSize:
                if (value is < FrameHeader.MinMaxFrameSize or > FrameHeader.MaxMaxFrameSize)
                {
                    throw ProtocolError($"SETTINGS_MAX_FRAME_SIZE {value}");
                }

                peerMaxFrameSize = (int)value;
                break;
            default:
                // HEADER_TABLE_SIZE: our encoder never indexes. MAX_HEADER_LIST_SIZE: our requests are tiny. Unknown: ignored.
                break;
        }
    }

    private async ValueTask HandlePingAsync(FrameHeader header, CancellationToken cancellationToken)
    {
        if (header.StreamId != 0)
        {
            throw ProtocolError("PING on a stream");
        }

        if (header.Length != 8)
        {
            throw ProtocolError($"PING of {header.Length} bytes (FRAME_SIZE_ERROR)");
        }

        await ReceiveExactAsync(control.AsMemory(FrameHeader.Size, 8), cancellationToken).ConfigureAwait(false);
        if (header.HasFlag(FrameFlags.Ack))
        {
            return;
        }

        FrameHeader.Write(control, 8, FrameType.Ping, FrameFlags.Ack, 0);
        await SendAsync(control.AsMemory(0, FrameHeader.Size + 8), cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask HandleGoAwayAsync(FrameHeader header, CancellationToken cancellationToken)
    {
        if (header.StreamId != 0)
        {
            throw ProtocolError("GOAWAY on a stream");
        }

        if (header.Length < 8)
        {
            throw ProtocolError($"GOAWAY of {header.Length} bytes (FRAME_SIZE_ERROR)");
        }

        await ReceiveExactAsync(control.AsMemory(0, 8), cancellationToken).ConfigureAwait(false);
        await DiscardAsync(header.Length - 8, cancellationToken).ConfigureAwait(false); // debug data
        var last = (int)(BinaryPrimitives.ReadUInt32BigEndian(control) & 0x7fffffff);
        goAwayCode = (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(control.AsSpan(4));
        goAwayLastStreamId = Math.Min(last, goAwayLastStreamId ?? int.MaxValue);
        IsBroken = true; // retired: the stream in flight may finish, nothing new starts here
        if (activeStream > goAwayLastStreamId)
        {
            streamFailure = new Http2ConnectionException($"{Endpoint} is going away (GOAWAY {goAwayCode}) and did not process the request", notProcessed: true);
            throw streamFailure;
        }
    }

    private async ValueTask HandleWindowUpdateAsync(FrameHeader header, CancellationToken cancellationToken)
    {
        if (header.Length != 4)
        {
            throw ProtocolError($"WINDOW_UPDATE of {header.Length} bytes (FRAME_SIZE_ERROR)");
        }

        await ReceiveExactAsync(control.AsMemory(0, 4), cancellationToken).ConfigureAwait(false);
        var increment = BinaryPrimitives.ReadUInt32BigEndian(control) & 0x7fffffff;
        if (increment == 0)
        {
            throw ProtocolError("WINDOW_UPDATE with increment 0");
        }

        if (header.StreamId == 0)
        {
            connectionSendWindow += increment;
            if (connectionSendWindow > int.MaxValue)
            {
                throw ProtocolError("the connection send window exceeds 2^31-1 (FLOW_CONTROL_ERROR)");
            }
        }
        else if (header.StreamId == activeStream)
        {
            streamSendWindow += increment;
            if (streamSendWindow > int.MaxValue)
            {
                throw ProtocolError("the stream send window exceeds 2^31-1 (FLOW_CONTROL_ERROR)");
            }
        }
    }
}
