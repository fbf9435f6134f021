using MessagePack;

namespace Gfs.Master.Commands;

/// <summary>Creates a directory; with <see cref="Parents"/> also its missing ancestors, and an existing directory is not an error.</summary>
[MessagePackObject]
public sealed class MakeDirectoryOp : MasterOp
{
    /// <summary>UTF-8 path.</summary>
    [Key(0)]
    public byte[] Path { get; set; } = [];

    [Key(1)]
    public bool Parents { get; set; }
}
