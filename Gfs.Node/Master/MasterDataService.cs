using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Protocol.Master;
using Gfs.Consensus;
using Gfs.Master.Cluster;
using Gfs.Master.Commands;
using Gfs.Master.Replication;
using Gfs.Node.Rpc;
using Microsoft.AspNetCore.Routing;

namespace Gfs.Node.Master;

/// <summary>
/// The master's data-path RPCs (docs/data-path.md): heartbeats (every replica), chunk lookups,
/// leases and replica reports (leader).
/// </summary>
internal sealed class MasterDataService
{
    private readonly MasterReplica replica;
    private readonly ChunkCoordinator coordinator;

    public MasterDataService(MasterReplica replica, ChunkCoordinator coordinator)
    {
        this.replica = replica;
        this.coordinator = coordinator;
        replica.Raft.LeaderChanged += _ => coordinator.OnLeadershipChanged();
    }

    public void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapRpc<HeartbeatRequest, HeartbeatReply>(ChunkRoutes.Heartbeat, (r, _) => ValueTask.FromResult(coordinator.Heartbeat(r)));
        endpoints.MapRpc<GetChunksRequest, GetChunksReply>(ChunkRoutes.GetChunks, (r, c) => LeaderAsync(() => coordinator.GetChunksAsync(r, c.CancellationToken), c));
        endpoints.MapRpc<LeaseChunkRequest, LeaseChunkReply>(ChunkRoutes.LeaseChunk, (r, c) => LeaderAsync(() => coordinator.Leases.LeaseAsync(r, c.CancellationToken), c));
        endpoints.MapRpc<CreateLeasedRequest, CreateLeasedReply>(ChunkRoutes.CreateLeased, (r, c) => LeaderAsync(() => CreateLeasedAsync(r, c), c));
        endpoints.MapRpc<ReportReplicaRequest, Empty>(ChunkRoutes.ReportReplica, (r, c) => LeaderAsync(
            async () =>
            {
                await coordinator.ReportReplicaAsync(r, c.CancellationToken).ConfigureAwait(false);
                return Empty.Instance;
            },
            c));
    }

    private async Task<CreateLeasedReply> CreateLeasedAsync(CreateLeasedRequest request, RpcContext context)
    {
        if (request.Op.Kind != NamespaceOpKind.CreateFile)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"{context.Route} carries a {request.Op.Kind} operation");
        }

        var create = (CreateFileOp)MasterRpcService.ToMasterOp(request.Op);
        var (id, lease) = await coordinator.Leases.CreateAsync(request.Header.ClientId, request.Header.RequestId, create, request.ClientHost, context.CancellationToken).ConfigureAwait(false);
        return new CreateLeasedReply { Lease = lease, Id = id };
    }

    private async ValueTask<T> LeaderAsync<T>(Func<Task<T>> call, RpcContext context)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (NotLeaderException e)
        {
            throw await MasterRpcService.NotLeaderAsync(replica, e, context).ConfigureAwait(false);
        }
    }
}
