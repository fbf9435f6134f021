namespace Gfs.Client.Protocol;

/// <summary>
/// A typed failure of a Gfs operation. Every error that crosses the wire arrives as this exception
/// with a stable <see cref="ErrorCode"/>.
/// </summary>
public sealed class GfsException : Exception
{
    /// <summary>Creates an exception with a code and a message for people.</summary>
    public GfsException(ErrorCode code, string message)
        : base(message) => Code = code;

    /// <summary>Creates an exception with a code, a message for people and the underlying cause.</summary>
    public GfsException(ErrorCode code, string message, Exception? innerException)
        : base(message, innerException) => Code = code;

    /// <summary>Creates an exception that redirects the caller to the leader master.</summary>
    public GfsException(ErrorCode code, string message, string? leaderUrl)
        : base(message)
    {
        Code = code;
        LeaderUrl = leaderUrl;
    }

    /// <summary>The stable error code.</summary>
    public ErrorCode Code { get; }

    /// <summary>For <see cref="ErrorCode.NotLeader"/>: the client URL of the current leader, when known.</summary>
    public string? LeaderUrl { get; }

    /// <summary>True when retrying the same request (perhaps elsewhere) may succeed.</summary>
    public bool IsTransient => Code is ErrorCode.Unavailable or ErrorCode.NotLeader or ErrorCode.DeadlineExceeded or ErrorCode.Busy;

    /// <inheritdoc />
    public override string ToString() => $"{Code}: {Message}";
}
