using MessagePack;

namespace Gfs.Client.Protocol.Master;

/// <summary>Attributes of a file or directory.</summary>
[MessagePackObject]
public sealed class EntryAttributes
{
    /// <summary>The last path component; empty for the root.</summary>
    [Key(0)]
    public string Name { get; set; } = "";

    /// <summary>The inode id, stable for the entry's life.</summary>
    [Key(1)]
    public long Id { get; set; }

    /// <summary>File or directory.</summary>
    [Key(2)]
    public EntryKind Kind { get; set; }

    /// <summary>File length in bytes; 0 for a directory.</summary>
    [Key(3)]
    public long Size { get; set; }

    /// <summary>Last change, Unix milliseconds.</summary>
    [Key(4)]
    public long ModifiedUnixMs { get; set; }

    /// <summary>Replication goal of a file; 0 for a directory.</summary>
    [Key(5)]
    public int Goal { get; set; }

    /// <summary>Chunk size of a file in bytes; 0 for a directory.</summary>
    [Key(6)]
    public int ChunkSize { get; set; }

    /// <summary>Chunks of a file, or entries of a directory.</summary>
    [Key(7)]
    public int Count { get; set; }
}
