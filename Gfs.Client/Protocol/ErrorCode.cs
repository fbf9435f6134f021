namespace Gfs.Client.Protocol;

/// <summary>
/// Stable error codes carried in every reply envelope. Numbers are part of the wire format:
/// new codes are appended, existing ones are never renumbered.
/// </summary>
public enum ErrorCode
{
    /// <summary>The call succeeded.</summary>
    Ok = 0,

    /// <summary>An unexpected server fault. The message never contains a stack trace.</summary>
    Internal = 1,

    /// <summary>An argument is invalid: a bad path, an out-of-range offset, a wrong value.</summary>
    InvalidArgument = 2,

    /// <summary>The request body is not a well-formed message of the expected shape.</summary>
    MalformedMessage = 3,

    /// <summary>The request body is larger than the server accepts for this route.</summary>
    PayloadTooLarge = 4,

    /// <summary>The request's content type is not MessagePack.</summary>
    UnsupportedMediaType = 5,

    /// <summary>No RPC is mapped at the requested route.</summary>
    UnknownRoute = 6,

    /// <summary>The call's deadline passed before it completed.</summary>
    DeadlineExceeded = 7,

    /// <summary>The call was cancelled.</summary>
    Cancelled = 8,

    /// <summary>The node cannot serve the call now (starting, shutting down, unreachable, no leader yet). Retry.</summary>
    Unavailable = 9,

    /// <summary>This master is not the leader; <see cref="GfsException.LeaderUrl"/> names the leader when known.</summary>
    NotLeader = 10,

    /// <summary>The caller did not authenticate, or its credentials are invalid or expired.</summary>
    Unauthenticated = 11,

    /// <summary>The caller is authenticated but not allowed to do this.</summary>
    PermissionDenied = 12,

    /// <summary>The file, directory, chunk or object does not exist.</summary>
    NotFound = 13,

    /// <summary>The file or directory already exists.</summary>
    AlreadyExists = 14,

    /// <summary>The operation would exceed a quota.</summary>
    QuotaExceeded = 15,

    /// <summary>The chunk replica's version is older than required: it missed a mutation.</summary>
    StaleVersion = 16,

    /// <summary>Stored data failed checksum verification.</summary>
    ChecksumMismatch = 17,

    /// <summary>The disk or the cluster has no room for the data.</summary>
    NoSpace = 18,

    /// <summary>A path component that must be a directory is not one.</summary>
    NotADirectory = 19,

    /// <summary>The operation needs a file but the path names a directory.</summary>
    IsADirectory = 20,

    /// <summary>The directory is not empty.</summary>
    DirectoryNotEmpty = 21,

    /// <summary>The chunkserver does not hold a valid lease for this mutation, or the lease epoch is old.</summary>
    LeaseExpired = 22,

    /// <summary>A local disk failed (for example fsync returned an error); the node refuses further mutations on it.</summary>
    DiskFailed = 23,

    /// <summary>The state changed concurrently in a way that conflicts with the request.</summary>
    Conflict = 24,

    /// <summary>
    /// The node is overloaded for now (a full push buffer, too many mutations waiting for one chunk) and
    /// refused the call before doing anything. Nobody is at fault: retry the same node after a backoff.
    /// </summary>
    Busy = 25,

    /// <summary>
    /// The file at this path is not the one the caller opened: it was deleted, or replaced by a create
    /// with overwrite, after the caller's writer or appender started. Retrying does not help.
    /// </summary>
    FileReplaced = 26,

    /// <summary>
    /// Bytes inside the file's length that no replica holds: they were never written (a writer stopped
    /// part-way through a chunk before the last) or are not written yet. A reader never returns zeros
    /// in their place.
    /// </summary>
    Unwritten = 27,
}
