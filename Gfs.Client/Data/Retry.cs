using Gfs.Client.Protocol;

namespace Gfs.Client.Data;

/// <summary>What to do after a chunk mutation attempt failed.</summary>
internal enum FailureAction
{
    /// <summary>Give up: the error is the caller's (bad argument, missing file, no space, no permission).</summary>
    Fail,

    /// <summary>Take a new lease (the version or lease changed, or the server was busy) and retry after a backoff; nobody is to blame.</summary>
    Release,

    /// <summary>Take a new lease without the server that failed, then retry.</summary>
    ReleaseWithout,
}

/// <summary>The retry decisions of the data path, in one place.</summary>
internal static class Retry
{
    /// <summary>What to do when a chunkserver call of a mutation failed with <paramref name="error"/>.</summary>
    public static FailureAction OnChunkserverError(GfsException error) => error.Code switch
    {
        // The lease or version moved on: ask again, the master knows the current state. A busy server
        // (full push buffer, too many mutations waiting) is overloaded for now, not faulty: wait, keep it.
        ErrorCode.StaleVersion or ErrorCode.LeaseExpired or ErrorCode.Conflict or ErrorCode.Busy => FailureAction.Release,

        // The server could not be reached, timed out, lost its disk or its copy: leave it out.
        ErrorCode.Unavailable or ErrorCode.DeadlineExceeded or ErrorCode.DiskFailed or ErrorCode.NotFound
            or ErrorCode.Internal or ErrorCode.ChecksumMismatch or ErrorCode.Cancelled => FailureAction.ReleaseWithout,

        // Bad requests, permission and space problems do not improve by retrying.
        _ => FailureAction.Fail,
    };

    /// <summary>Whether a master call of the data path (lease, locations) may be retried after <paramref name="error"/>.</summary>
    public static bool IsTransientMasterError(GfsException error)
        => error.IsTransient || error.Code is ErrorCode.Conflict;
}

/// <summary>Exponential backoff with jitter: each delay is the current step scaled by [0.5, 1.5); the step doubles up to a cap.</summary>
internal struct Backoff(TimeSpan initial, TimeSpan max, Func<double>? random = null)
{
    private TimeSpan step = initial;

    public TimeSpan Next()
    {
        var sample = random?.Invoke() ?? Random.Shared.NextDouble();
        var delay = TimeSpan.FromTicks((long)(step.Ticks * (0.5 + sample)));
        step = TimeSpan.FromTicks(Math.Min(step.Ticks * 2, max.Ticks));
        return delay;
    }
}
