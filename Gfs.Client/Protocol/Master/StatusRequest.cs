using MessagePack;

namespace Gfs.Client.Protocol.Master;

/// <summary>Asks a replica for its <see cref="StatusReply"/>.</summary>
[MessagePackObject]
public sealed class StatusRequest
{
    /// <summary>Also compute the state hash (a full pass over the state; costly on large namespaces).</summary>
    [Key(0)]
    public bool IncludeStateHash { get; set; }
}
