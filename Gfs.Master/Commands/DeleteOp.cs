using MessagePack;

namespace Gfs.Master.Commands;

/// <summary>Moves a file or a directory into the hidden trash, stamped with the command's time.</summary>
[MessagePackObject]
public sealed class DeleteOp : MasterOp
{
    [Key(0)]
    public byte[] Path { get; set; } = [];

    /// <summary>Allows deleting a non-empty directory (its whole subtree goes to the trash).</summary>
    [Key(1)]
    public bool Recursive { get; set; }
}
