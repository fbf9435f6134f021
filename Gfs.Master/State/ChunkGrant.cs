namespace Gfs.Master.State;

/// <summary>
/// How a chunk's current version was granted: to <see cref="Servers"/> (the primary first), whose
/// replicas held at least <see cref="BaseVersion"/> before it (0: the chunk was created empty).
/// </summary>
/// <param name="Version">The chunk's current version.</param>
/// <param name="BaseVersion">The oldest version a replica of the grant held before it; 0 for a new chunk.</param>
/// <param name="Servers">The servers granted <paramref name="Version"/>, the primary first.</param>
public sealed record ChunkGrant(long Version, long BaseVersion, IReadOnlyList<string> Servers);
