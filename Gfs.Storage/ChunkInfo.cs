namespace Gfs.Storage;

/// <summary>One chunk as listed in a chunk report.</summary>
/// <param name="Handle">The chunk's 64-bit handle.</param>
/// <param name="Version">Its version number.</param>
/// <param name="Length">Committed bytes.</param>
/// <param name="IsCorrupt">True when the store knows the chunk is damaged (missing or short file, bad block).</param>
public readonly record struct ChunkInfo(long Handle, long Version, long Length, bool IsCorrupt);
