using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Transport;
using Gfs.Master.Cluster;

namespace Gfs.Node.Master;

/// <summary>The leader's calls to chunkservers over the shared RPC transport.</summary>
internal sealed class RpcChunkserverChannel(RpcClient client, DataPathOptions options) : IChunkserverChannel
{
    public Task<GrantReply> GrantAsync(ReplicaLocation server, GrantRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        return Uri.TryCreate(server.Url, UriKind.Absolute, out var url)
            ? client.CallAsync<GrantRequest, GrantReply>(url, ChunkRoutes.Grant, request, options.GrantTimeout, cancellationToken)
            : throw new Gfs.Client.Protocol.GfsException(Gfs.Client.Protocol.ErrorCode.Unavailable, $"chunkserver {server.ServerId} has no valid URL ('{server.Url}')");
    }
}
