using System.Buffers.Binary;

namespace Gfs.Client.Transport.Http2;

/// <summary>HTTP/2 frame types (RFC 9113 §6).</summary>
internal enum FrameType : byte
{
    Data = 0x0,
    Headers = 0x1,
    Priority = 0x2,
    RstStream = 0x3,
    Settings = 0x4,
    PushPromise = 0x5,
    Ping = 0x6,
    GoAway = 0x7,
    WindowUpdate = 0x8,
    Continuation = 0x9,
}

/// <summary>HTTP/2 frame flags (RFC 9113 §6); the meaning of a bit depends on the frame type.</summary>
internal static class FrameFlags
{
    public const byte None = 0x0;
    public const byte EndStream = 0x1;
    public const byte Ack = 0x1;
    public const byte EndHeaders = 0x4;
    public const byte Padded = 0x8;
    public const byte Priority = 0x20;
}

/// <summary>SETTINGS parameters (RFC 9113 §6.5.2).</summary>
internal enum SettingId : ushort
{
    HeaderTableSize = 0x1,
    EnablePush = 0x2,
    MaxConcurrentStreams = 0x3,
    InitialWindowSize = 0x4,
    MaxFrameSize = 0x5,
    MaxHeaderListSize = 0x6,
}

/// <summary>HTTP/2 error codes (RFC 9113 §7).</summary>
internal enum Http2ErrorCode : uint
{
    NoError = 0x0,
    ProtocolError = 0x1,
    InternalError = 0x2,
    FlowControlError = 0x3,
    SettingsTimeout = 0x4,
    StreamClosed = 0x5,
    FrameSizeError = 0x6,
    RefusedStream = 0x7,
    Cancel = 0x8,
    CompressionError = 0x9,
    ConnectError = 0xa,
    EnhanceYourCalm = 0xb,
    InadequateSecurity = 0xc,
    Http11Required = 0xd,
}

/// <summary>The 9-byte header every HTTP/2 frame starts with (RFC 9113 §4.1).</summary>
internal readonly record struct FrameHeader(int Length, FrameType Type, byte Flags, int StreamId)
{
    public const int Size = 9;

    /// <summary>The protocol's initial and smallest maximum frame size.</summary>
    public const int MinMaxFrameSize = 16 * 1024;

    /// <summary>The largest frame size a peer may advertise (2^24 - 1).</summary>
    public const int MaxMaxFrameSize = (1 << 24) - 1;

    public bool HasFlag(byte flag) => (Flags & flag) != 0;

    /// <summary>Parses a frame header; the reserved bit of the stream id is ignored, as the RFC asks.</summary>
    public static FrameHeader Read(ReadOnlySpan<byte> source)
    {
        var length = (source[0] << 16) | (source[1] << 8) | source[2];
        var streamId = (int)(BinaryPrimitives.ReadUInt32BigEndian(source[5..]) & 0x7fffffff);
        return new FrameHeader(length, (FrameType)source[3], source[4], streamId);
    }

    public static void Write(Span<byte> destination, int length, FrameType type, byte flags, int streamId)
    {
        destination[0] = (byte)(length >> 16);
        destination[1] = (byte)(length >> 8);
        destination[2] = (byte)length;
        destination[3] = (byte)type;
        destination[4] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(destination[5..], (uint)streamId & 0x7fffffff);
    }

    public void Write(Span<byte> destination) => Write(destination, Length, Type, Flags, StreamId);
}
