using Gfs.Storage.Chunks;

namespace Gfs.Storage.Index;

/// <summary>A chunk's committed record and its append table (null when it has none), to write at a checkpoint.</summary>
internal readonly record struct IndexUpsert(long Handle, ChunkRecord Record, AppendTable? Appends);
