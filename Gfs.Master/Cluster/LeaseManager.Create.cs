using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Master.Commands;
using Gfs.Master.State;

namespace Gfs.Master.Cluster;

public sealed partial class LeaseManager
{
    /// <summary>
    /// <c>master/CreateLeased</c>: creates the file and allocates its first chunk in one log entry
    /// (exactly once, under the client's ids), then creates the replicas and returns the chunk's
    /// lease. A new file costs one commit instead of two before its first write. Leader only.
    /// </summary>
    /// <param name="clientId">The client's exactly-once id (not 0).</param>
    /// <param name="requestId">The request's id.</param>
    /// <param name="create">The validated create; its first chunk is filled in here.</param>
    /// <param name="clientHost">The caller's host, to order the replicas nearest first.</param>
    /// <param name="cancellationToken">Not used past validation: a create that may commit runs to its grants, or its first chunk would exist nowhere.</param>
    /// <returns>The file's inode id, and the first chunk's lease or null when no chunk could be placed or granted now (the file exists).</returns>
    /// <exception cref="GfsException">The create failed (AlreadyExists, NotFound, NotADirectory, InvalidArgument, …).</exception>
    public async Task<(long Id, LeaseChunkReply? Lease)> CreateAsync(long clientId, long requestId, CreateFileOp create, string clientHost, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(create);
        if (clientId == 0)
        {
            throw new GfsException(ErrorCode.InvalidArgument, "a create needs a non-zero client id");
        }

        var chunkSize = create.ChunkSize == 0 ? MasterLimits.DefaultChunkSize : create.ChunkSize;
        List<ReplicaLocation>? placed = null;
        if (create.Goal is >= 1 and <= MasterLimits.MaxGoal)
        {
            try
            {
                placed = registry.Place(create.Goal, chunkSize);
            }
            catch (GfsException e) when (e.Code == ErrorCode.Unavailable)
            {
                // No chunkserver can take a chunk now: create the file alone; its first write allocates.
            }
        }

        if (placed is not null)
        {
            create.FirstChunk = log.NewChunkHandle();
            create.FirstReplicas = [.. placed.Select(p => p.ServerId)];
        }

        cancellationToken.ThrowIfCancellationRequested();
        var result = await log.ExecuteAsync(clientId, requestId, create, CancellationToken.None).ConfigureAwait(false);
        if (result.Code != ErrorCode.Ok)
        {
            throw new GfsException(result.Code, result.Message ?? $"create failed: {result.Code}");
        }

        if (placed is null || result.Replayed)
        {
            // A retry's own placement was not applied (the first attempt's outcome stands): the first write leases chunk 0.
            return (result.Value, null);
        }

        try
        {
            return (result.Value, await GrantNewAsync(0, create.FirstChunk, placed, chunkSize, clientHost).ConfigureAwait(false));
        }
        catch (GfsException e) when (e.Code == ErrorCode.Unavailable)
        {
            return (result.Value, null); // the file exists; the first write asks for the lease again
        }
    }
}
