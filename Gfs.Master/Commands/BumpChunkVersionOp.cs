using MessagePack;

namespace Gfs.Master.Commands;

/// <summary>
/// Raises a chunk's version by one if it still is <see cref="ExpectedVersion"/> (done before granting a
/// lease), and records to whom the new version is granted: with that record a later leader can tell a
/// replica that only missed the grant from one that missed data.
/// </summary>
[MessagePackObject]
public sealed class BumpChunkVersionOp : MasterOp
{
    [Key(0)]
    public long Handle { get; set; }

    [Key(1)]
    public long ExpectedVersion { get; set; }

    /// <summary>The servers the new version is granted to, the primary first (empty: not recorded).</summary>
    [Key(2)]
    public string[] Replicas { get; set; } = [];

    /// <summary>
    /// The oldest version the granted replicas hold: <see cref="ExpectedVersion"/> for a plain bump (0 is
    /// read so), lower when the expected version was granted to nobody who could have mutated it; for a
    /// chunk re-created empty, -1 (no replica holds anything).
    /// </summary>
    [Key(3)]
    public long BaseVersion { get; set; }
}
