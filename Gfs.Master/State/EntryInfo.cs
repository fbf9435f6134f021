namespace Gfs.Master.State;

/// <summary>Attributes of a namespace entry as reads return them.</summary>
/// <param name="Name">The last path component (empty for the root).</param>
/// <param name="Id">The inode number, stable for the entry's life.</param>
/// <param name="Kind">File or directory.</param>
/// <param name="Size">File length in bytes; 0 for directories.</param>
/// <param name="MTime">Last change, Unix milliseconds (leader time).</param>
/// <param name="Goal">Replication goal of a file; 0 for directories.</param>
/// <param name="ChunkSize">Chunk size of a file in bytes; 0 for directories.</param>
/// <param name="Count">Chunks of a file, children of a directory.</param>
public readonly record struct EntryInfo(string Name, int Id, InodeKind Kind, long Size, long MTime, int Goal, int ChunkSize, int Count);
