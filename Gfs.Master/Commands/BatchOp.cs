using MessagePack;

namespace Gfs.Master.Commands;

/// <summary>Many namespace operations in one log entry; each has its own result. Not a transaction: each op is atomic on its own.</summary>
[MessagePackObject]
public sealed class BatchOp : MasterOp
{
    [Key(0)]
    public MasterOp[] Ops { get; set; } = [];
}
