using Gfs.Client.Protocol.Chunk;

namespace Gfs.Master.Cluster;

/// <summary>
/// A lease as the leader sees it. <see cref="ExpiresAt"/> is on the leader's monotonic clock and
/// includes the grace, so it always ends after the primary's own view of the lease.
/// <see cref="Confirmed"/> is false while the primary's Grant outcome is unknown: the lease then only
/// blocks other primaries and is never handed to a client. <see cref="Replicas"/> are those that took
/// the version (what clients are told); <see cref="Members"/> are the servers the primary forwards
/// every mutation to (the grant's list), so a member that fails makes every mutation fail until the
/// version is raised without it.
/// </summary>
public sealed record ChunkLease(long Handle, long Version, string PrimaryId, IReadOnlyList<ReplicaLocation> Replicas, long ExpiresAt, bool Confirmed, IReadOnlyList<string> Members);
