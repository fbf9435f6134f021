using MessagePack;
using MessagePack.Resolvers;

namespace Gfs.Client.Protocol;

/// <summary>
/// Constants and serializer options shared by both ends of the RPC transport.
/// </summary>
/// <remarks>
/// <para>Unary request: the body is one MessagePack value, the request object.</para>
/// <para>Upload request: <c>[header, bin32 data]</c>, a two-element array whose second element is
/// streamed; the whole body stays one valid MessagePack value.</para>
/// <para>Reply: <c>[code, message, leaderUrl, payload]</c>; a download reply appends a fifth element,
/// <c>bin32 data</c>, which is streamed. A download that fails after its first data byte ends short
/// and carries the error in the HTTP/2 trailers <see cref="ErrorCodeTrailer"/> and
/// <see cref="ErrorMessageTrailer"/>.</para>
/// </remarks>
public static class WireFormat
{
    /// <summary>Content type of every request and reply body.</summary>
    public const string ContentType = "application/x-msgpack";

    /// <summary>Route prefix of every RPC: <c>/rpc/{service}/{method}</c>.</summary>
    public const string RoutePrefix = "/rpc/";

    /// <summary>Request header carrying the caller's remaining time budget in milliseconds.</summary>
    public const string DeadlineHeader = "gfs-timeout-ms";

    /// <summary>Trailer carrying the numeric <see cref="ErrorCode"/> of a download that failed mid-stream.</summary>
    public const string ErrorCodeTrailer = "gfs-error-code";

    /// <summary>Trailer carrying the message of a download that failed mid-stream.</summary>
    public const string ErrorMessageTrailer = "gfs-error-message";

    /// <summary>Elements in a unary or error reply envelope.</summary>
    public const int ReplyElements = 4;

    /// <summary>Elements in a download reply envelope (the last one is the streamed bytes).</summary>
    public const int DownloadReplyElements = 5;

    /// <summary>Elements in an upload request body (the last one is the streamed bytes).</summary>
    public const int UploadRequestElements = 2;

    /// <summary>Size of a MessagePack bin32 header: the marker byte and a big-endian 32-bit length.</summary>
    public const int Bin32HeaderLength = 5;

    /// <summary>The MessagePack bin32 marker byte.</summary>
    public const byte Bin32Code = 0xc6;

    /// <summary>Deepest nesting accepted in any message; Gfs contracts are far shallower.</summary>
    public const int MaxDepth = 64;

    /// <summary>
    /// Serializer options for everything read from or written to the network: attribute-based
    /// contracts only (no Typeless resolver) and <see cref="MessagePackSecurity.UntrustedData"/>.
    /// </summary>
    public static MessagePackSerializerOptions Options { get; } = MessagePackSerializerOptions.Standard
        .WithResolver(StandardResolver.Instance)
        .WithSecurity(MessagePackSecurity.UntrustedData.WithMaximumObjectGraphDepth(MaxDepth));

    /// <summary>Writes a bin32 header for <paramref name="length"/> bytes into <paramref name="destination"/>.</summary>
    public static void WriteBin32Header(Span<byte> destination, long length)
    {
        if ((ulong)length > uint.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "a streamed body holds at most 4 GiB");
        }

        destination[0] = Bin32Code;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(destination[1..], (uint)length);
    }
}
