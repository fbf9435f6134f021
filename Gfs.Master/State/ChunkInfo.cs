namespace Gfs.Master.State;

/// <summary>A chunk as reads return it; its goal is its file's.</summary>
public readonly record struct ChunkInfo(long Handle, long Version, int Goal, int OwnerId);
