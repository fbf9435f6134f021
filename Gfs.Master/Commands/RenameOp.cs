using MessagePack;

namespace Gfs.Master.Commands;

/// <summary>Moves a file or a directory (with its subtree) atomically. The destination must not exist.</summary>
[MessagePackObject]
public sealed class RenameOp : MasterOp
{
    [Key(0)]
    public byte[] From { get; set; } = [];

    [Key(1)]
    public byte[] To { get; set; } = [];
}
