using Gfs.Client.Protocol;

namespace Gfs.Node.Cli.Client;

/// <summary>
/// Exit codes of the client verbs, the same for every verb (docs/cli.md lists them). Scripts may
/// rely on them: they are never renumbered.
/// </summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Error = 1;
    public const int Usage = 2;
    public const int NotFound = 3;
    public const int AlreadyExists = 4;
    public const int PermissionDenied = 5;
    public const int Unavailable = 6;
    public const int NoSpace = 7;
    public const int WrongKind = 8;
    public const int DataError = 9;

    /// <summary>Stdout was closed by the reader (<c>gfs cat f | head</c>): 128 + SIGPIPE, as a shell reports it.</summary>
    public const int BrokenPipe = 141;

    /// <summary>Interrupted by Ctrl+C or SIGTERM: 128 + SIGINT.</summary>
    public const int Interrupted = 130;

    public static int Of(ErrorCode code) => code switch
    {
        ErrorCode.Ok => Ok,
        ErrorCode.InvalidArgument => Usage,
        ErrorCode.NotFound => NotFound,
        ErrorCode.AlreadyExists => AlreadyExists,
        ErrorCode.PermissionDenied or ErrorCode.Unauthenticated => PermissionDenied,
        ErrorCode.Unavailable or ErrorCode.NotLeader or ErrorCode.DeadlineExceeded or ErrorCode.Busy => Unavailable,
        ErrorCode.NoSpace or ErrorCode.QuotaExceeded => NoSpace,
        ErrorCode.NotADirectory or ErrorCode.IsADirectory or ErrorCode.DirectoryNotEmpty => WrongKind,
        ErrorCode.ChecksumMismatch or ErrorCode.StaleVersion or ErrorCode.DiskFailed or ErrorCode.Unwritten => DataError,
        ErrorCode.Cancelled => Interrupted,
        _ => Error,
    };
}
