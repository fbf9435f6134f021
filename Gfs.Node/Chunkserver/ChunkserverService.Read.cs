using System.Buffers;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Node.Rpc;
using Gfs.Storage;

namespace Gfs.Node.Chunkserver;

internal sealed partial class ChunkserverService
{
    private ValueTask<RpcDownloadReply<ReadHeader>> ReadAsync(ReadRequest request, RpcContext context)
    {
        var info = Existing(request.Handle);
        if (info.Version != request.Version)
        {
            throw new GfsException(ErrorCode.StaleVersion, $"chunk {request.Handle:x16} is at version {info.Version}, the reader asked for {request.Version}");
        }

        CheckReadable(request.Handle, info.Version);

        // A chunk known to be damaged is still read: the store verifies every block it serves, so
        // intact blocks come back and a bad one stops the stream with ChecksumMismatch.
        if (request.Offset < 0 || request.Offset > info.Length || request.Length < 0)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"read of {request.Length} bytes at {request.Offset} of chunk {request.Handle:x16}, which holds {info.Length} bytes");
        }

        // Lengths only grow while the chunk exists, so this many bytes stay readable.
        var length = Math.Min(request.Length, info.Length - request.Offset);
        var header = new ReadHeader { Version = info.Version, ChunkLength = info.Length };
        return ValueTask.FromResult(new RpcDownloadReply<ReadHeader>(header, length, async (writer, cancellationToken) =>
        {
            Interlocked.Increment(ref activeRequests);
            try
            {
                var sent = await store.ReadAsync(
                    request.Handle,
                    request.Offset,
                    length,
                    async (segment, ct) =>
                    {
                        writer.Write(segment.Span);
                        await writer.FlushAsync(ct).ConfigureAwait(false);
                    },
                    cancellationToken).ConfigureAwait(false);
                if (sent != length)
                {
                    throw new GfsException(ErrorCode.NotFound, $"chunk {request.Handle:x16} changed during the read ({sent} of {length} bytes)");
                }
            }
            catch (ChunkStoreException e)
            {
                throw StoreErrors.ToGfs(e);
            }
            finally
            {
                Interlocked.Decrement(ref activeRequests);
            }
        }));
    }
}
