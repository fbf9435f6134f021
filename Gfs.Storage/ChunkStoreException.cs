namespace Gfs.Storage;

/// <summary>The one exception type of the chunk store: a typed <see cref="ChunkStoreError"/> plus context.</summary>
public sealed class ChunkStoreException : Exception
{
    public ChunkStoreException(ChunkStoreError error, string message, long? handle = null, int? blockIndex = null, Exception? inner = null)
        : base(message, inner)
    {
        Error = error;
        Handle = handle;
        BlockIndex = blockIndex;
    }

    public ChunkStoreError Error { get; }

    /// <summary>The chunk concerned, when there is one.</summary>
    public long? Handle { get; }

    /// <summary>For <see cref="ChunkStoreError.ChecksumMismatch"/>: the index of the first bad 64 KiB block.</summary>
    public int? BlockIndex { get; }

    internal static ChunkStoreException NotFound(long handle) =>
        new(ChunkStoreError.NotFound, $"chunk {handle:x16} does not exist", handle);

    internal static ChunkStoreException Mismatch(long handle, int block, string detail) =>
        new(ChunkStoreError.ChecksumMismatch, $"chunk {handle:x16} block {block}: {detail}", handle, block);
}
