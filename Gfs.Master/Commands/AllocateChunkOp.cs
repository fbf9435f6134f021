using MessagePack;

namespace Gfs.Master.Commands;

/// <summary>
/// Appends a chunk to a file. The leader chooses the handle and the replicas; apply checks that the
/// handle is unused and that <see cref="ChunkIndex"/> is the file's next chunk.
/// </summary>
[MessagePackObject]
public sealed class AllocateChunkOp : MasterOp
{
    [Key(0)]
    public byte[] Path { get; set; } = [];

    /// <summary>Index of the new chunk in the file; must equal the file's current chunk count.</summary>
    [Key(1)]
    public int ChunkIndex { get; set; }

    /// <summary>The new chunk's handle, chosen by the leader; never 0.</summary>
    [Key(2)]
    public long Handle { get; set; }

    /// <summary>The chunkservers chosen for the replicas; echoed in the result, not kept in the state (locations come from chunk reports).</summary>
    [Key(3)]
    public string[] Replicas { get; set; } = [];

    /// <summary>The inode id of the file the caller opened; apply refuses another file at the path (FileReplaced). 0: not checked.</summary>
    [Key(4)]
    public long FileId { get; set; }
}
