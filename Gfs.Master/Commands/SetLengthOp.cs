using MessagePack;

namespace Gfs.Master.Commands;

/// <summary>
/// Raises a file's length to <see cref="Size"/> (a writer's or appender's acknowledged end); never
/// lowers it. Apply refuses a size beyond the file's allocated chunks.
/// </summary>
[MessagePackObject]
public sealed class SetLengthOp : MasterOp
{
    [Key(0)]
    public byte[] Path { get; set; } = [];

    [Key(1)]
    public long Size { get; set; }

    /// <summary>The inode id of the file the writer opened; apply refuses another file at the path (FileReplaced). 0: not checked.</summary>
    [Key(2)]
    public long FileId { get; set; }
}
