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

    /// <summary>
    /// When not 0: the file's first chunk is allocated with this handle in the same log entry (the
    /// leader's create-and-lease path: one commit instead of two for a new file). Chosen by the leader.
    /// </summary>
    [Key(3)]
    public long FirstChunk { get; set; }

    /// <summary>The chunkservers placed for <see cref="FirstChunk"/>; echoed like <see cref="AllocateChunkOp.Replicas"/>.</summary>
    [Key(4)]
    public string[] FirstReplicas { get; set; } = [];
}
