using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Transport;
using Gfs.Node.Rpc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Gfs.Node.Chunkserver;

/// <summary>
/// The data push of GFS §3.2, pipelined down the replica chain. The client uploads a piece to the
/// first chunkserver (<c>chunk/Push</c>); before the first byte is consumed, that server asks the
/// next one to fetch the piece (<c>chunk/Fetch</c>), which downloads it (<c>chunk/Pull</c>) from the
/// first server's buffer while the buffer still fills, and so on down the chain. Downloads are the
/// cheaper direction of our HTTP/2 stack (docs/benchmarks.md, Transport), and a pull receives the
/// bytes straight into the push entry's buffer, so each hop after the first costs less than a
/// forwarded upload would.
/// </summary>
/// <remarks>
/// A server answers once its own copy is whole and checksum-verified and its downstream answered.
/// A downstream failure does not fail the hop: the reply lists the servers that did not get the
/// data (<see cref="PushReply.Failed"/>) so that the client can leave them out of the next lease.
/// A downstream server whose buffer stayed full is busy, not failed (<see cref="PushReply.Busy"/>):
/// the client pushes again to the same servers later, and the copies made before it are dropped
/// at once (the push cannot be used, and they would only keep the buffers fuller meanwhile).
/// Each hop gives the next what is left of its own budget less a margin for the way back: a hop
/// waits for room at most three quarters of its budget, so a busy answer from anywhere in the chain
/// comes back before the client's deadline, and the data (which flows through every hop at once)
/// still has nearly the client's whole budget.
/// </remarks>
internal sealed partial class PushService(PushBuffer buffer, RpcClient rpc, Func<string> selfUrl, TimeProvider time, ILogger logger)
{
    /// <summary>Largest piece one push may carry (a whole chunk).</summary>
    public const long MaxPushBytes = 64L << 20;

    /// <summary>Longest chain a push may name.</summary>
    public const int MaxChain = 16;

    /// <summary>Least bytes a pull sends at once while the data still arrives.</summary>
    public const int PullSlice = 1 << 20;

    private static readonly TimeSpan HopTimeout = TimeSpan.FromMinutes(2);

    private static readonly TimeSpan MinHopTimeout = TimeSpan.FromMilliseconds(100);

    /// <summary>Kept from a hop's budget for its answer's way back to the caller.</summary>
    private static readonly TimeSpan ReplyMargin = TimeSpan.FromMilliseconds(250);

    public void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapUploadRpc<PushHeader, PushReply>(ChunkRoutes.Push, PushAsync);
        endpoints.MapRpc<FetchRequest, PushReply>(ChunkRoutes.Fetch, FetchAsync);
        endpoints.MapDownloadRpc<PullRequest, PullHeader>(ChunkRoutes.Pull, PullAsync);
    }

    private async ValueTask<PushReply> PushAsync(PushHeader header, RpcUpload upload, RpcContext context)
    {
        Validate(header.DataId, header.Length, header.Chain);
        if (upload.Length != header.Length)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"data {header.DataId}: the header says {header.Length} bytes, the body carries {upload.Length}");
        }

        var ct = context.CancellationToken;
        var started = time.GetTimestamp();
        var entry = await ReserveAsync(header.DataId, header.Length, context).ConfigureAwait(false);
        var downstream = StartDownstream(entry, header.Crc32C, header.Chain, DownstreamBudget(context, started), ct);
        try
        {
            await upload.ConsumeAsync(
                (data, _) =>
                {
                    entry.Append(data);
                    return ValueTask.CompletedTask;
                },
                ct).ConfigureAwait(false);
            entry.Complete(header.Crc32C);
        }
        catch (Exception e)
        {
            await AbandonAsync(entry, e, downstream).ConfigureAwait(false);
            throw;
        }

        return await ReplyAsync(entry, downstream).ConfigureAwait(false);
    }

    private async ValueTask<PushReply> FetchAsync(FetchRequest request, RpcContext context)
    {
        Validate(request.DataId, request.Length, request.Chain);
        if (!Uri.TryCreate(request.Source, UriKind.Absolute, out var source) || source.Scheme is not ("http" or "https"))
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"'{request.Source}' is not a chunkserver URL");
        }

        var ct = context.CancellationToken;
        var started = time.GetTimestamp();
        var entry = await ReserveAsync(request.DataId, request.Length, context).ConfigureAwait(false);
        var downstream = StartDownstream(entry, request.Crc32C, request.Chain, DownstreamBudget(context, started), ct);
        try
        {
            await using var pull = await rpc.DownloadAsync<PullRequest, PullHeader>(source, ChunkRoutes.Pull, new PullRequest { DataId = request.DataId }, HopTimeout, ct).ConfigureAwait(false);
            if (pull.Length != request.Length)
            {
                throw new GfsException(ErrorCode.Conflict, $"data {request.DataId}: {source} holds {pull.Length} bytes, {request.Length} expected");
            }

            // Straight into the entry's buffer (over h2c the socket receives into it); downstream pulls see each read at once.
            if (pull.Length > 0)
            {
                if (!entry.TryAcquire())
                {
                    throw new GfsException(ErrorCode.NotFound, $"data {request.DataId} was dropped from the push buffer");
                }

                try
                {
                    while (pull.Remaining > 0)
                    {
                        var n = await pull.ReadAsync(entry.GetFillMemory(), ct).ConfigureAwait(false);
                        entry.Advance(n);
                    }
                }
                finally
                {
                    entry.Release();
                }
            }

            entry.Complete(request.Crc32C);
        }
        catch (Exception e)
        {
            await AbandonAsync(entry, e, downstream).ConfigureAwait(false);
            throw;
        }

        return await ReplyAsync(entry, downstream).ConfigureAwait(false);
    }

    private ValueTask<RpcDownloadReply<PullHeader>> PullAsync(PullRequest request, RpcContext context)
    {
        var entry = buffer.FindAny(request.DataId) ?? throw new GfsException(ErrorCode.NotFound, $"data {request.DataId} is not in this chunkserver's push buffer");
        return ValueTask.FromResult(new RpcDownloadReply<PullHeader>(new PullHeader { Length = entry.Length }, entry.Length, async (writer, ct) =>
        {
            // The reference is taken inside the body so that it is released on every path.
            if (!entry.TryAcquire())
            {
                throw new GfsException(ErrorCode.NotFound, $"data {request.DataId} was dropped from the push buffer");
            }

            try
            {
                long sent = 0;
                while (sent < entry.Length)
                {
                    // At least PullSlice bytes per write (each write is a flush: fewer, larger frames).
                    var target = Math.Min(entry.Length, sent + PullSlice);
                    var available = sent;
                    while (available < target)
                    {
                        available = await entry.WaitForDataAsync(available, ct).ConfigureAwait(false);
                    }

                    var result = await writer.WriteAsync(entry.Data[(int)sent..(int)available], ct).ConfigureAwait(false);
                    if (result.IsCanceled || result.IsCompleted)
                    {
                        return;
                    }

                    sent = available;
                }

                await entry.Completion.ConfigureAwait(false); // a bad checksum fails the pull too
            }
            finally
            {
                entry.Release();
            }
        }));
    }

    /// <summary>Waits for room at most three quarters of the caller's budget, so that the caller hears Unavailable, not its own timeout.</summary>
    private async ValueTask<PushEntry> ReserveAsync(string dataId, long length, RpcContext context)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        wait.CancelAfter(ChunkserverService.Budget(context) * 3 / 4);
        return await buffer.BeginAsync(dataId, length, wait.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// What the next hop may take: what is left of this call's budget less <see cref="ReplyMargin"/>
    /// (at most <see cref="HopTimeout"/>), so that its answer, busy included, arrives while the caller
    /// still waits. Its wait for room is three quarters of that at most, so the waits of a chain
    /// never add up to the caller's budget.
    /// </summary>
    private TimeSpan DownstreamBudget(RpcContext context, long started)
    {
        var left = ChunkserverService.Budget(context) - time.GetElapsedTime(started) - ReplyMargin;
        return TimeSpan.FromTicks(Math.Clamp(left.Ticks, MinHopTimeout.Ticks, HopTimeout.Ticks));
    }

    private static void Validate(string dataId, long length, List<string> chain)
    {
        if (string.IsNullOrEmpty(dataId) || dataId.Length > 256)
        {
            throw new GfsException(ErrorCode.InvalidArgument, "a data id has 1 to 256 characters");
        }

        if (length is < 0 or > MaxPushBytes)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"a push carries 0 to {MaxPushBytes} bytes, not {length}");
        }

        if (chain.Count > MaxChain)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"a push chain names at most {MaxChain} servers");
        }

        foreach (var hop in chain)
        {
            if (!Uri.TryCreate(hop, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                throw new GfsException(ErrorCode.InvalidArgument, $"'{hop}' in the push chain is not a chunkserver URL");
            }
        }
    }

    /// <summary>Asks the next server of the chain to pull the data from here, at once: it streams while this server receives.</summary>
    private Task<PushReply>? StartDownstream(PushEntry entry, uint crc32C, List<string> chain, TimeSpan budget, CancellationToken cancellationToken)
    {
        if (chain.Count == 0)
        {
            return null;
        }

        var next = new Uri(chain[0]);
        var request = new FetchRequest { DataId = entry.DataId, Length = entry.Length, Crc32C = crc32C, Source = selfUrl(), Chain = chain[1..] };
        return Task.Run(
            async () =>
            {
                try
                {
                    return await rpc.CallAsync<FetchRequest, PushReply>(next, ChunkRoutes.Fetch, request, budget, cancellationToken).ConfigureAwait(false);
                }
                catch (GfsException e) when (e.Code == ErrorCode.Busy)
                {
                    // Its buffer stayed full: it and the hops after it (never asked) did not get the data, through nobody's fault.
                    ChunkserverLog.PushHopBusy(logger, entry.DataId, next, e.Message);
                    return new PushReply { Busy = [.. chain] };
                }
                catch (Exception e) when (e is GfsException or OperationCanceledException)
                {
                    LogHopFailed(logger, entry.DataId, next, e.Message);
                    return new PushReply { Failed = [.. chain] };
                }
            },
            CancellationToken.None);
    }

    private async Task<PushReply> ReplyAsync(PushEntry entry, Task<PushReply>? downstream)
    {
        var reply = new PushReply { Buffered = [selfUrl()] };
        if (downstream is not null)
        {
            var after = await downstream.ConfigureAwait(false);
            if (after.Busy.Count > 0)
            {
                // The client pushes the data again once the busy server has room: this copy is of no use.
                buffer.Remove(entry);
                reply.Buffered.Clear();
            }

            reply.Buffered.AddRange(after.Buffered);
            reply.Failed.AddRange(after.Failed);
            reply.Busy.AddRange(after.Busy);
        }

        return reply;
    }

    private async Task AbandonAsync(PushEntry entry, Exception error, Task<PushReply>? downstream)
    {
        entry.Fail(error);
        buffer.Remove(entry);
        if (downstream is not null)
        {
            await downstream.ConfigureAwait(false); // it fails too (its pull fails); never throws
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "push of {DataId}: the next hop {Next} failed: {Error}")]
    private static partial void LogHopFailed(ILogger logger, string dataId, Uri next, string error);
}
