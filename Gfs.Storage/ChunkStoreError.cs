namespace Gfs.Storage;

/// <summary>Why a chunk store operation failed. The chunkserver maps these to wire error codes.</summary>
public enum ChunkStoreError
{
    /// <summary>No chunk with that handle.</summary>
    NotFound = 1,

    /// <summary>A chunk with that handle already exists.</summary>
    AlreadyExists,

    /// <summary>An argument is malformed (negative length, empty handle set, bad option).</summary>
    InvalidArgument,

    /// <summary>An offset or length lies outside the chunk (past its end or past the chunk size).</summary>
    OutOfRange,

    /// <summary>The caller's version differs from the chunk's version, or a version would go backwards.</summary>
    StaleVersion,

    /// <summary>Stored bytes do not match their checksum; <see cref="ChunkStoreException.BlockIndex"/> names the block.</summary>
    ChecksumMismatch,

    /// <summary>The disk is full; nothing was recorded and the call may be retried once space returns.</summary>
    NoSpace,

    /// <summary>A sync or write failed; the store refuses every later mutation.</summary>
    DiskFailed,

    /// <summary>The store is closed.</summary>
    Closed,
}
