using System.Text;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Protocol.Master;
using Gfs.Client.Transport;

namespace Gfs.Client.Data;

/// <summary>The data path over the real transport: master calls through <see cref="MasterClient"/> (leader discovery, retries), chunkserver calls straight through <see cref="RpcClient"/>.</summary>
internal sealed class RpcDataPath(GfsClientOptions options, RpcClient rpc, MasterClient master) : IDataPath
{
    public Task<GetChunksReply> GetChunksAsync(string path, int firstIndex, int count, CancellationToken cancellationToken)
        => master.CallLeaderAsync<GetChunksRequest, GetChunksReply>(
            ChunkRoutes.GetChunks,
            new GetChunksRequest { Path = Encoding.UTF8.GetBytes(path), FirstIndex = firstIndex, Count = count, ClientHost = options.ClientHost },
            cancellationToken);

    public Task<LeaseChunkReply> LeaseChunkAsync(string path, long fileId, int index, bool allocate, IReadOnlyCollection<string> failed, CancellationToken cancellationToken)
        => master.CallLeaderAsync<LeaseChunkRequest, LeaseChunkReply>(
            ChunkRoutes.LeaseChunk,
            new LeaseChunkRequest { Path = Encoding.UTF8.GetBytes(path), Index = index, Allocate = allocate, Failed = [.. failed], ClientHost = options.ClientHost, FileId = fileId },
            LeaseAttemptTimeout,
            cancellationToken);

    /// <summary>
    /// One attempt of a lease call: the leader may wait for an older lease to expire and then grant
    /// twice (<see cref="DataPathTimeouts.LeaseAttempt"/>), so the attempt is allowed that long;
    /// abandoning it earlier would only make the retry wait again.
    /// </summary>
    private TimeSpan LeaseAttemptTimeout => options.AttemptTimeout > DataPathTimeouts.LeaseAttempt ? options.AttemptTimeout : DataPathTimeouts.LeaseAttempt;

    public Task<CreateLeasedReply> CreateFileAsync(string path, int goal, int chunkSize, CancellationToken cancellationToken)
        => master.CallExactlyOnceAsync<CreateLeasedRequest, CreateLeasedReply>(
            ChunkRoutes.CreateLeased,
            header => new CreateLeasedRequest { Header = header, Op = NamespaceOp.Of(NamespaceOpKind.CreateFile, path, goal: goal, chunkSize: chunkSize), ClientHost = options.ClientHost },
            cancellationToken);

    public Task ReportReplicaAsync(ReportReplicaRequest report, CancellationToken cancellationToken)
        => master.CallLeaderAsync<ReportReplicaRequest, Empty>(ChunkRoutes.ReportReplica, report, cancellationToken);

    public Task SetLengthAsync(string path, long fileId, long size, CancellationToken cancellationToken)
    {
        var op = NamespaceOp.Of(NamespaceOpKind.SetLength, path);
        op.Size = size;
        op.FileId = fileId;
        return master.MutateAsync(op, cancellationToken);
    }

    public Task<PushReply> PushAsync(Uri node, PushHeader header, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        => rpc.UploadAsync<PushHeader, PushReply>(node, ChunkRoutes.Push, header, data, options.ChunkCallTimeout, cancellationToken);

    public Task<WriteReply> WriteAsync(Uri primary, WriteRequest request, CancellationToken cancellationToken)
        => rpc.CallAsync<WriteRequest, WriteReply>(primary, ChunkRoutes.Write, request, options.ChunkCallTimeout, cancellationToken);

    public Task<AppendReply> AppendAsync(Uri primary, AppendRequest request, CancellationToken cancellationToken)
        => rpc.CallAsync<AppendRequest, AppendReply>(primary, ChunkRoutes.Append, request, options.ChunkCallTimeout, cancellationToken);

    public Task<ChunkInfoReply> InfoAsync(Uri node, long handle, CancellationToken cancellationToken)
        => rpc.CallAsync<ChunkInfoRequest, ChunkInfoReply>(node, ChunkRoutes.Info, new ChunkInfoRequest { Handle = handle }, options.AttemptTimeout, cancellationToken);

    public async Task<int> ReadAsync(Uri node, ReadRequest request, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var download = await rpc.DownloadAsync<ReadRequest, ReadHeader>(node, ChunkRoutes.Read, request, options.ChunkCallTimeout, cancellationToken).ConfigureAwait(false);
        await using (download.ConfigureAwait(false))
        {
            if (download.Length > destination.Length)
            {
                throw new GfsException(ErrorCode.MalformedMessage, $"{ChunkRoutes.Read} on {node}: {download.Length} bytes sent for {destination.Length} asked");
            }

            // Straight into the piece buffer: over h2c the socket receives into it, no copy in between.
            var filled = 0;
            while (download.Remaining > 0)
            {
                filled += await download.ReadAsync(destination[filled..(int)download.Length], cancellationToken).ConfigureAwait(false);
            }

            return filled;
        }
    }
}
