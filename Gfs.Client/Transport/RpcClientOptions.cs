using System.Security.Cryptography.X509Certificates;

namespace Gfs.Client.Transport;

/// <summary>
/// Settings of the HTTP/2 MessagePack transport. Immutable; derive variants with <c>with</c>.
/// </summary>
public sealed record RpcClientOptions
{
    private readonly int http2MaxFrameBytes = 1024 * 1024;

    /// <summary>Time budget of a unary call when the caller gives none. Default 30 s.</summary>
    public TimeSpan DefaultTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Time budget of an upload or download when the caller gives none. Default 5 min.</summary>
    public TimeSpan DefaultStreamTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Time allowed to open a connection (TCP and TLS). Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Largest unary reply or download header accepted, in bytes. Default 64 MiB.</summary>
    public int MaxReplyBytes { get; init; } = 64 * 1024 * 1024;

    /// <summary>
    /// HTTP/2 receive window per stream, in bytes. The 64 KiB protocol default caps a 64 MiB transfer
    /// at one window per round trip; default 16 MiB.
    /// </summary>
    public int Http2StreamWindowBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>
    /// SETTINGS_MAX_FRAME_SIZE that the upload and download client advertises: the largest DATA
    /// frame the server may send it. Between 16 KiB and 16 MiB - 1; default 1 MiB (the protocol's
    /// default of 16 KiB costs a frame, and its bookkeeping, per 16 KiB).
    /// </summary>
    public int Http2MaxFrameBytes
    {
        get => http2MaxFrameBytes;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 16 * 1024);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, (16 * 1024 * 1024) - 1);
            http2MaxFrameBytes = value;
        }
    }

    /// <summary>
    /// Certificates that are trusted as roots for <c>https</c> servers (the cluster CA). When empty,
    /// the operating system's trust store decides.
    /// </summary>
    public X509Certificate2Collection TrustedRoots { get; init; } = [];

    /// <summary>
    /// Certificate presented to servers that ask for one (mutual TLS). Default none.
    /// </summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>Most bytes of the pooled buffer through which <see cref="RpcDownload{THeader}.CopyToAsync(Func{System.Buffers.ReadOnlySequence{byte}, CancellationToken, ValueTask}, CancellationToken)"/> hands downloaded data to its sink. Default 1 MiB.</summary>
    public int StreamBufferBytes { get; init; } = 1024 * 1024;
}
