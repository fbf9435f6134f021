using MessagePack;

namespace Gfs.Master.Commands;

/// <summary>Creates an empty file.</summary>
[MessagePackObject]
public sealed class CreateFileOp : MasterOp
{
    [Key(0)]
    public byte[] Path { get; set; } = [];

    /// <summary>Replication goal, 1..<see cref="State.MasterLimits.MaxGoal"/>.</summary>
    [Key(1)]
    public int Goal { get; set; } = State.MasterLimits.DefaultGoal;

    /// <summary>Chunk size in bytes, a power of two in the allowed range; 0 means the default (64 MiB).</summary>
    [Key(2)]
    public int ChunkSize { get; set; }
}
