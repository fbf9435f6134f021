using System.Buffers;
using System.Buffers.Binary;
using MessagePack;

namespace Gfs.Client.Protocol;

/// <summary>
/// Writes and reads the reply envelope <c>[code, message, leaderUrl, payload (, bin32 data)]</c>
/// and the upload prefix <c>[header, bin32 data]</c>. Both ends of the transport use it.
/// </summary>
public static class Envelope
{
    /// <summary>Writes a successful unary reply carrying <paramref name="payload"/>.</summary>
    public static void WriteReply<T>(IBufferWriter<byte> output, T payload)
    {
        var writer = new MessagePackWriter(output);
        writer.WriteArrayHeader(WireFormat.ReplyElements);
        WriteOk(ref writer);
        MessagePackSerializer.Serialize(ref writer, payload, WireFormat.Options);
        writer.Flush();
    }

    /// <summary>Writes an error reply.</summary>
    public static void WriteError(IBufferWriter<byte> output, ErrorCode code, string message, string? leaderUrl = null)
    {
        var writer = new MessagePackWriter(output);
        writer.WriteArrayHeader(WireFormat.ReplyElements);
        writer.Write((int)code);
        writer.Write(message);
        writer.Write(leaderUrl);
        writer.WriteNil();
        writer.Flush();
    }

    /// <summary>Writes the start of a download reply: the envelope with its header, then the bin32 header of <paramref name="length"/> streamed bytes.</summary>
    public static void WriteDownloadPrefix<T>(IBufferWriter<byte> output, T header, long length)
    {
        var writer = new MessagePackWriter(output);
        writer.WriteArrayHeader(WireFormat.DownloadReplyElements);
        WriteOk(ref writer);
        MessagePackSerializer.Serialize(ref writer, header, WireFormat.Options);
        writer.Flush();
        WriteBin32(output, length);
    }

    /// <summary>Writes the start of an upload body: the header, then the bin32 header of <paramref name="length"/> streamed bytes.</summary>
    public static void WriteUploadPrefix<T>(IBufferWriter<byte> output, T header, long length)
    {
        var writer = new MessagePackWriter(output);
        writer.WriteArrayHeader(WireFormat.UploadRequestElements);
        MessagePackSerializer.Serialize(ref writer, header, WireFormat.Options);
        writer.Flush();
        WriteBin32(output, length);
    }

    /// <summary>
    /// Reads a complete unary reply. Returns the payload, or throws the <see cref="GfsException"/>
    /// that the envelope carries.
    /// </summary>
    public static T ReadReply<T>(ReadOnlySequence<byte> body)
    {
        var reader = new MessagePackReader(body);
        try
        {
            var count = reader.ReadArrayHeader();
            if (count != WireFormat.ReplyElements)
            {
                throw new GfsException(ErrorCode.MalformedMessage, $"reply envelope has {count} elements, expected {WireFormat.ReplyElements}");
            }

            ThrowIfError(ref reader);
            var payload = MessagePackSerializer.Deserialize<T>(ref reader, WireFormat.Options);
            if (!reader.End)
            {
                throw new GfsException(ErrorCode.MalformedMessage, "reply has bytes after its envelope");
            }

            return payload;
        }
        catch (MessagePackSerializationException e)
        {
            throw new GfsException(ErrorCode.MalformedMessage, "reply is not a valid envelope: " + e.Message, e);
        }
        catch (EndOfStreamException e)
        {
            throw new GfsException(ErrorCode.MalformedMessage, "reply envelope is truncated", e);
        }
    }

    /// <summary>
    /// Parses the prefix of a download reply (everything before the streamed bytes) or an error
    /// envelope. Returns false when <paramref name="buffer"/> does not yet hold the whole prefix.
    /// </summary>
    /// <param name="buffer">Bytes received so far.</param>
    /// <param name="maxPrefixLength">Largest prefix accepted.</param>
    /// <param name="header">The download's header object.</param>
    /// <param name="dataLength">Length of the streamed bytes that follow.</param>
    /// <param name="consumed">Length of the prefix.</param>
    public static bool TryReadDownloadPrefix<T>(ReadOnlySequence<byte> buffer, long maxPrefixLength, out T header, out long dataLength, out long consumed)
    {
        header = default!;
        dataLength = 0;
        consumed = 0;
        if (buffer.IsEmpty)
        {
            return false;
        }

        var first = buffer.FirstSpan[0];
        if (first == 0x90 + WireFormat.ReplyElements)
        {
            // An error envelope: no streamed part.
            var status = MessagePackFraming.Measure(buffer, WireFormat.MaxDepth, maxPrefixLength, out var length);
            if (status == FramingStatus.NeedMoreData)
            {
                return false;
            }

            ThrowIfFramingFailed(status, "reply");
            _ = ReadReply<Nil>(buffer.Slice(0, length));
            throw new GfsException(ErrorCode.MalformedMessage, "download reply carries no data");
        }

        if (first != 0x90 + WireFormat.DownloadReplyElements)
        {
            throw new GfsException(ErrorCode.MalformedMessage, "download reply does not start with its envelope");
        }

        // Measure the four envelope values after the array marker, then the bin32 header.
        var offset = 1L;
        for (var i = 0; i < WireFormat.ReplyElements; i++)
        {
            var status = MessagePackFraming.Measure(buffer.Slice(offset), WireFormat.MaxDepth, maxPrefixLength - offset, out var length);
            if (status == FramingStatus.NeedMoreData)
            {
                return false;
            }

            ThrowIfFramingFailed(status, "download reply");
            offset += length;
        }

        if (buffer.Length < offset + WireFormat.Bin32HeaderLength)
        {
            return false;
        }

        dataLength = ReadBin32Header(buffer.Slice(offset, WireFormat.Bin32HeaderLength));
        var reader = new MessagePackReader(buffer.Slice(1, offset - 1));
        try
        {
            ThrowIfError(ref reader);
            header = MessagePackSerializer.Deserialize<T>(ref reader, WireFormat.Options);
        }
        catch (MessagePackSerializationException e)
        {
            throw new GfsException(ErrorCode.MalformedMessage, "download reply header is invalid: " + e.Message, e);
        }

        consumed = offset + WireFormat.Bin32HeaderLength;
        return true;
    }

    /// <summary>Decodes a 5-byte bin32 header and returns its length, or throws <see cref="ErrorCode.MalformedMessage"/>.</summary>
    public static long ReadBin32Header(ReadOnlySequence<byte> fiveBytes)
    {
        Span<byte> bytes = stackalloc byte[WireFormat.Bin32HeaderLength];
        fiveBytes.Slice(0, WireFormat.Bin32HeaderLength).CopyTo(bytes);
        if (bytes[0] != WireFormat.Bin32Code)
        {
            throw new GfsException(ErrorCode.MalformedMessage, "streamed data must be a bin32 value");
        }

        return BinaryPrimitives.ReadUInt32BigEndian(bytes[1..]);
    }

    /// <summary>Maps a failed framing measurement to the matching typed error.</summary>
    public static void ThrowIfFramingFailed(FramingStatus status, string what)
    {
        switch (status)
        {
            case FramingStatus.Complete:
                return;
            case FramingStatus.TooLarge:
                throw new GfsException(ErrorCode.PayloadTooLarge, $"{what} is larger than allowed");
            case FramingStatus.TooDeep:
                throw new GfsException(ErrorCode.MalformedMessage, $"{what} nests deeper than {WireFormat.MaxDepth} levels");
            case FramingStatus.NeedMoreData:
                throw new GfsException(ErrorCode.MalformedMessage, $"{what} is truncated");
            default:
                throw new GfsException(ErrorCode.MalformedMessage, $"{what} is not valid MessagePack");
        }
    }

    private static void WriteOk(ref MessagePackWriter writer)
    {
        writer.Write(0);
        writer.WriteNil();
        writer.WriteNil();
    }

    private static void WriteBin32(IBufferWriter<byte> output, long length)
    {
        var span = output.GetSpan(WireFormat.Bin32HeaderLength);
        WireFormat.WriteBin32Header(span, length);
        output.Advance(WireFormat.Bin32HeaderLength);
    }

    private static void ThrowIfError(ref MessagePackReader reader)
    {
        var code = (ErrorCode)reader.ReadInt32();
        var message = reader.ReadString();
        var leader = reader.ReadString();
        if (code != ErrorCode.Ok)
        {
            throw new GfsException(code, message ?? code.ToString(), leader);
        }
    }
}
