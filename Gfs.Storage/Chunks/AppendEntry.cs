namespace Gfs.Storage.Chunks;

/// <summary>One record append that named its identity: the client's id and sequence, and the offset it was written at.</summary>
internal readonly record struct AppendEntry(long ClientId, long Sequence, long Offset);
