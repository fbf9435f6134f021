namespace Gfs.Consensus;

/// <summary>The current leader as one member sees it.</summary>
/// <param name="MemberId">Index in <see cref="GfsRaftOptions.Members"/>, or -1 when the URL is not one of them.</param>
/// <param name="RaftUrl">The leader's Raft URL.</param>
/// <param name="ClientUrl">The leader's client URL from its metadata, when known.</param>
/// <param name="IsLocal">True when this member is the leader.</param>
public sealed record RaftLeaderInfo(int MemberId, Uri RaftUrl, Uri? ClientUrl, bool IsLocal);
