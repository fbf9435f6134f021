using MessagePack;

namespace Gfs.Master.Commands;

/// <summary>Sets a file's replication goal (and with it the goal of each of its chunks).</summary>
[MessagePackObject]
public sealed class SetReplicationOp : MasterOp
{
    [Key(0)]
    public byte[] Path { get; set; } = [];

    [Key(1)]
    public int Goal { get; set; }
}
