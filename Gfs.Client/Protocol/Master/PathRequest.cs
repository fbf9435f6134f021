using MessagePack;

namespace Gfs.Client.Protocol.Master;

/// <summary>A read of one path: stat, or list a directory.</summary>
[MessagePackObject]
public sealed class PathRequest
{
    /// <summary>The path (UTF-8).</summary>
    [Key(0)]
    public byte[] Path { get; set; } = [];

    /// <summary>For list: continue after this entry name; null starts at the beginning.</summary>
    [Key(1)]
    public string? StartAfter { get; set; }

    /// <summary>For list: the most entries to return; 0 means the server's page size.</summary>
    [Key(2)]
    public int Limit { get; set; }

    /// <summary>
    /// Answer from this replica's state without a read barrier, even on a follower. Stale by
    /// design: for diagnostics and for checking replicas, never for applications.
    /// </summary>
    [Key(3)]
    public bool Local { get; set; }

    /// <summary>Creates a request for a path given as a string.</summary>
    public static PathRequest Of(string path, string? startAfter = null, int limit = 0, bool local = false)
        => new() { Path = System.Text.Encoding.UTF8.GetBytes(path), StartAfter = startAfter, Limit = limit, Local = local };
}
