namespace Gfs.Client;

/// <summary>A file open for writing (sequential, at the end).</summary>
public abstract class GfsWriteStream : Stream
{
    /// <summary>The file's path.</summary>
    public abstract string Path { get; }

    /// <summary>Bytes acknowledged by every replica so far (the file's acknowledged end).</summary>
    public abstract long Acknowledged { get; }
}
