namespace Gfs.Storage;

/// <summary>A snapshot of the store's size and state.</summary>
/// <param name="Chunks">Number of chunks.</param>
/// <param name="BytesUsed">Sum of committed chunk lengths.</param>
/// <param name="FreeBytes">Free space available to the store's file system.</param>
/// <param name="TotalBytes">Size of the store's file system.</param>
/// <param name="CorruptChunks">Chunks known to be damaged.</param>
/// <param name="Failed">True once a sync failed; every later mutation is refused.</param>
public readonly record struct ChunkStoreStats(long Chunks, long BytesUsed, long FreeBytes, long TotalBytes, long CorruptChunks, bool Failed);
