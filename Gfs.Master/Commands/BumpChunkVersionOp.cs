using MessagePack;

namespace Gfs.Master.Commands;

/// <summary>Raises a chunk's version by one if it still is <see cref="ExpectedVersion"/> (done before granting a lease).</summary>
[MessagePackObject]
public sealed class BumpChunkVersionOp : MasterOp
{
    [Key(0)]
    public long Handle { get; set; }

    [Key(1)]
    public long ExpectedVersion { get; set; }
}
