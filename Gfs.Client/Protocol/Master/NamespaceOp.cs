using MessagePack;

namespace Gfs.Client.Protocol.Master;

/// <summary>Which namespace operation a <see cref="NamespaceOp"/> is.</summary>
public enum NamespaceOpKind
{
    /// <summary>Create a directory; <see cref="NamespaceOp.Flag"/> creates missing parents.</summary>
    Mkdir = 1,

    /// <summary>Create an empty file with <see cref="NamespaceOp.Goal"/> and <see cref="NamespaceOp.ChunkSize"/>.</summary>
    CreateFile = 2,

    /// <summary>Move into the trash; <see cref="NamespaceOp.Flag"/> allows a non-empty directory.</summary>
    Delete = 3,

    /// <summary>Rename <see cref="NamespaceOp.Path"/> to <see cref="NamespaceOp.Target"/>.</summary>
    Rename = 4,

    /// <summary>Set a file's replication goal to <see cref="NamespaceOp.Goal"/>.</summary>
    SetReplication = 5,

    /// <summary>Raises a file's length to <see cref="NamespaceOp.Size"/> (never lowers it): a writer's or appender's acknowledged end.</summary>
    SetLength = 6,
}

/// <summary>
/// One namespace mutation. Paths are absolute, UTF-8 encoded, carried as bytes so that the master
/// can refuse invalid UTF-8 rather than see it silently replaced.
/// </summary>
[MessagePackObject]
public sealed class NamespaceOp
{
    /// <summary>The operation.</summary>
    [Key(0)]
    public NamespaceOpKind Kind { get; set; }

    /// <summary>The path the operation acts on (UTF-8).</summary>
    [Key(1)]
    public byte[] Path { get; set; } = [];

    /// <summary>For <see cref="NamespaceOpKind.Rename"/>: the new path (UTF-8).</summary>
    [Key(2)]
    public byte[]? Target { get; set; }

    /// <summary>Replication goal for create and set-replication; 0 means the cluster default.</summary>
    [Key(3)]
    public int Goal { get; set; }

    /// <summary>Chunk size in bytes for create; 0 means the cluster default (64 MiB).</summary>
    [Key(4)]
    public int ChunkSize { get; set; }

    /// <summary>Parents for mkdir, recursive for delete.</summary>
    [Key(5)]
    public bool Flag { get; set; }

    /// <summary>SetLength: the file's new length (the largest acknowledged end).</summary>
    [Key(6)]
    public long Size { get; set; }

    /// <summary>
    /// SetLength: the inode id of the file the writer opened; the master refuses the change with
    /// <see cref="ErrorCode.FileReplaced"/> when the path names another file now. 0: not checked.
    /// </summary>
    [Key(7)]
    public long FileId { get; set; }

    /// <summary>Creates an operation on a path given as a string.</summary>
    public static NamespaceOp Of(NamespaceOpKind kind, string path, string? target = null, int goal = 0, int chunkSize = 0, bool flag = false) => new()
    {
        Kind = kind,
        Path = System.Text.Encoding.UTF8.GetBytes(path),
        Target = target is null ? null : System.Text.Encoding.UTF8.GetBytes(target),
        Goal = goal,
        ChunkSize = chunkSize,
        Flag = flag,
    };
}
