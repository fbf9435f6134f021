using Microsoft.Extensions.Logging;

namespace Gfs.Node;

/// <summary>Source-generated log messages of the gfs executable. Event ids 1000–1999.</summary>
internal static partial class Log
{
    [LoggerMessage(1000, LogLevel.Information, "Listening on {Urls} (HTTP/2; {Tls})")]
    public static partial void Listening(ILogger logger, string urls, string tls);

    [LoggerMessage(1001, LogLevel.Information, "RPC transport: max message {MaxMessageBytes} B, max upload {MaxUploadBytes} B, HTTP/2 windows {ConnectionWindow}/{StreamWindow} B, {MaxStreams} streams per connection, max frame {MaxFrame} B")]
    public static partial void TransportConfiguration(ILogger logger, int maxMessageBytes, long maxUploadBytes, int connectionWindow, int streamWindow, int maxStreams, int maxFrame);

    [LoggerMessage(1010, LogLevel.Debug, "{Route} from {Remote} refused: {Code} {Message}")]
    public static partial void RpcRefused(ILogger logger, string route, string remote, Gfs.Client.Protocol.ErrorCode code, string message);

    [LoggerMessage(1011, LogLevel.Error, "{Route} from {Remote} failed with an unexpected error (incident {Incident})")]
    public static partial void RpcFailed(ILogger logger, Exception exception, string route, string remote, string incident);

    [LoggerMessage(1012, LogLevel.Warning, "{Route} from {Remote}: download failed after its data started: {Code} {Message}")]
    public static partial void DownloadFailedMidStream(ILogger logger, string route, string remote, Gfs.Client.Protocol.ErrorCode code, string message);
}
