using MessagePack;

namespace Gfs.Client.Protocol.Master;

/// <summary>One namespace mutation with its exactly-once identity.</summary>
[MessagePackObject]
public sealed class MutationRequest
{
    /// <summary>Who asks, for exactly-once execution.</summary>
    [Key(0)]
    public MutationHeader Header { get; set; } = new();

    /// <summary>The mutation.</summary>
    [Key(1)]
    public NamespaceOp Op { get; set; } = new();
}
