using System.Threading.Channels;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Transport;

namespace Gfs.Node.Chunkserver;

/// <summary>
/// Forwards a push to the next chunkserver of the chain while it is still being received: the
/// downstream upload starts before the first byte arrives and is fed each piece as it is stored
/// (the pieces are the buffer's own memory, so forwarding adds no copy).
/// </summary>
internal sealed class PushForwarder
{
    private readonly Channel<ReadOnlyMemory<byte>> pieces = Channel.CreateUnbounded<ReadOnlyMemory<byte>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly TaskCompletionSource writerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource cancel;
    private readonly Task<PushReply> call;
    private int writerStarted;

    private PushForwarder(RpcClient rpc, Uri next, PushHeader header, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Next = next;
        cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        call = rpc.UploadAsync<PushHeader, PushReply>(next, ChunkRoutes.Push, header, header.Length, WriteAsync, timeout, cancel.Token);
    }

    public Uri Next { get; }

    /// <summary>Starts the upload to <paramref name="next"/>; its header names the rest of the chain.</summary>
    public static PushForwarder Start(RpcClient rpc, Uri next, PushHeader header, TimeSpan timeout, CancellationToken cancellationToken)
        => new(rpc, next, header, timeout, cancellationToken);

    /// <summary>Queues a stored piece; never blocks the receiving side.</summary>
    public void Feed(ReadOnlyMemory<byte> piece) => pieces.Writer.TryWrite(piece);

    /// <summary>
    /// Ends the upload (every byte was fed) or aborts it, and waits until the downstream call and
    /// its writer are done, so the buffer's memory is no longer read. Returns the downstream reply or its failure.
    /// </summary>
    public async Task<(PushReply? Reply, Exception? Error)> FinishAsync(bool abort)
    {
        if (abort)
        {
            pieces.Writer.TryComplete(new OperationCanceledException("the upstream push failed"));
            await cancel.CancelAsync().ConfigureAwait(false);
        }
        else
        {
            pieces.Writer.TryComplete();
        }

        PushReply? reply = null;
        Exception? error = null;
        try
        {
            reply = await call.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            error = e;
        }

        if (Volatile.Read(ref writerStarted) != 0)
        {
            pieces.Writer.TryComplete();
            await cancel.CancelAsync().ConfigureAwait(false);
            await writerDone.Task.ConfigureAwait(false);
        }

        cancel.Dispose();
        return (reply, error);
    }

    private async ValueTask WriteAsync(Stream stream, CancellationToken cancellationToken)
    {
        Volatile.Write(ref writerStarted, 1);
        try
        {
            while (await pieces.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (pieces.Reader.TryRead(out var piece))
                {
                    await stream.WriteAsync(piece, cancellationToken).ConfigureAwait(false);
                }

                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            // The upstream failed: end the downstream body short so the next hop drops the data.
            throw new GfsException(ErrorCode.Cancelled, "the upstream push failed", e);
        }
        finally
        {
            writerDone.TrySetResult();
        }
    }
}
