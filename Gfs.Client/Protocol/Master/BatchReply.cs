using MessagePack;

namespace Gfs.Client.Protocol.Master;

/// <summary>The outcomes of a batch, one per operation and in order.</summary>
[MessagePackObject]
public sealed class BatchReply
{
    /// <summary>Per-operation outcomes.</summary>
    [Key(0)]
    public List<OpResult> Results { get; set; } = [];

    /// <summary>True when the master answered from its exactly-once table.</summary>
    [Key(1)]
    public bool Replayed { get; set; }
}
