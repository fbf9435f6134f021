using System.ComponentModel.DataAnnotations;

namespace Gfs.Node.Rpc;

/// <summary>
/// How a node listens for RPCs. <c>http://</c> URLs speak cleartext HTTP/2 (h2c); <c>https://</c>
/// URLs speak HTTP/2 over TLS with ALPN h2 and need <see cref="CertificatePath"/>.
/// </summary>
public sealed class RpcServerOptions
{
    /// <summary>URLs to listen on, for example <c>https://127.0.0.1:9000</c>. Port 0 picks a free port.</summary>
    [Required]
    [MinLength(1)]
    public List<string> Urls { get; set; } = ["http://127.0.0.1:0"];

    /// <summary>PEM or PFX certificate for <c>https</c> URLs.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>PEM private key for <see cref="CertificatePath"/> when it is a PEM certificate.</summary>
    public string? CertificateKeyPath { get; set; }

    /// <summary>Largest unary request body accepted, in bytes. Default 16 MiB.</summary>
    [Range(1024, int.MaxValue)]
    public int MaxMessageBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Largest header of an upload request (everything before the streamed bytes). Default 1 MiB.</summary>
    [Range(64, int.MaxValue)]
    public int MaxUploadHeaderBytes { get; set; } = 1024 * 1024;

    /// <summary>Largest streamed upload accepted, in bytes. Default 256 MiB (a chunk is at most 64 MiB).</summary>
    [Range(0, uint.MaxValue)]
    public long MaxUploadBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>HTTP/2 receive window per connection. Default 64 MiB: one 64 MiB chunk in flight without stalls.</summary>
    [Range(65535, int.MaxValue)]
    public int Http2ConnectionWindowBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>HTTP/2 receive window per stream. Default 16 MiB.</summary>
    [Range(65535, int.MaxValue)]
    public int Http2StreamWindowBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Concurrent HTTP/2 streams per connection. Default 1000 (the protocol's usual 100 throttles many clients on one connection).</summary>
    [Range(1, int.MaxValue)]
    public int Http2MaxStreamsPerConnection { get; set; } = 1000;

    /// <summary>Largest HTTP/2 frame the server accepts. Default 1 MiB (the protocol default is 16 KiB).</summary>
    [Range(16 * 1024, (16 * 1024 * 1024) - 1)]
    public int Http2MaxFrameBytes { get; set; } = 1024 * 1024;

    /// <summary>Longest time a call may run when the caller sends no deadline. Default 5 min.</summary>
    public TimeSpan DefaultDeadline { get; set; } = TimeSpan.FromMinutes(5);
}
