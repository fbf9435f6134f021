using MessagePack;

namespace Gfs.Client.Protocol.Master;

/// <summary>
/// Many namespace mutations in one request and one log entry. Each operation succeeds or fails on
/// its own; the batch as a whole is exactly-once under its header.
/// </summary>
[MessagePackObject]
public sealed class BatchRequest
{
    /// <summary>Who asks, for exactly-once execution of the whole batch.</summary>
    [Key(0)]
    public MutationHeader Header { get; set; } = new();

    /// <summary>The mutations, applied in order.</summary>
    [Key(1)]
    public List<NamespaceOp> Ops { get; set; } = [];
}
