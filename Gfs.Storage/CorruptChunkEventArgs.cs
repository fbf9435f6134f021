namespace Gfs.Storage;

/// <summary>Raised when the store finds a damaged chunk: on read, by the scrubber, or at start.</summary>
public sealed class CorruptChunkEventArgs(long handle, long version, int? blockIndex, string reason) : EventArgs
{
    public long Handle { get; } = handle;

    public long Version { get; } = version;

    /// <summary>The first bad block, when known (null for a missing file).</summary>
    public int? BlockIndex { get; } = blockIndex;

    public string Reason { get; } = reason;
}
