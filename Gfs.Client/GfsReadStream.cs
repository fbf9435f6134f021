namespace Gfs.Client;

/// <summary>A file open for reading (seekable).</summary>
public abstract class GfsReadStream : Stream
{
    /// <summary>The file's path.</summary>
    public abstract string Path { get; }
}
