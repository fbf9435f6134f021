using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Gfs.Client.Transport.Http2;

/// <summary>What the data client's connections advertise and how they connect.</summary>
internal sealed record Http2ClientSettings
{
    /// <summary>Our connection-level receive window, raised by a WINDOW_UPDATE right after the preface.</summary>
    public const int ConnectionReceiveWindow = 64 * 1024 * 1024;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>SETTINGS_INITIAL_WINDOW_SIZE: our receive window per stream.</summary>
    public int StreamReceiveWindow { get; init; } = 16 * 1024 * 1024;

    /// <summary>SETTINGS_MAX_FRAME_SIZE: the largest frame the server may send us.</summary>
    public int MaxFrameSize { get; init; } = 1024 * 1024;

    /// <summary>Largest decoded header list (response headers or trailers) accepted.</summary>
    public int MaxHeaderListBytes { get; init; } = 1024 * 1024;

    /// <summary>Idle connections kept per endpoint.</summary>
    public int MaxIdlePerEndpoint { get; init; } = 16;

    /// <summary>An idle connection older than this is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Certificate validation for https; null lets the operating system's trust store decide.</summary>
    public RemoteCertificateValidationCallback? ValidateCertificate { get; init; }

    /// <summary>Client certificate for mutual TLS, or null.</summary>
    public X509Certificate2? ClientCertificate { get; init; }
}
