using Gfs.Client.Protocol.Chunk;

namespace Gfs.Master.Cluster;

/// <summary>How the leader reaches chunkservers (implemented over the RPC transport in Gfs.Node).</summary>
public interface IChunkserverChannel
{
    /// <summary>Sends <c>chunk/Grant</c>; throws <see cref="Gfs.Client.Protocol.GfsException"/> when the server refused or could not be reached.</summary>
    Task<GrantReply> GrantAsync(ReplicaLocation server, GrantRequest request, CancellationToken cancellationToken);
}
