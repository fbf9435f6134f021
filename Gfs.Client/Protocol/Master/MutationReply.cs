using MessagePack;

namespace Gfs.Client.Protocol.Master;

/// <summary>The outcome of a mutation that succeeded.</summary>
[MessagePackObject]
public sealed class MutationReply
{
    /// <summary>The inode id the mutation created or acted on, when it has one.</summary>
    [Key(0)]
    public long Id { get; set; }

    /// <summary>True when the master answered from its exactly-once table: the request had already been applied.</summary>
    [Key(1)]
    public bool Replayed { get; set; }

}
