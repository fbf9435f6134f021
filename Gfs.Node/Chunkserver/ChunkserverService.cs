using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Transport;
using Gfs.Node.Rpc;
using Gfs.Storage;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Gfs.Node.Chunkserver;

/// <summary>
/// The chunkserver's RPCs (docs/data-path.md): grants from the leader, pushes along the chain,
/// writes and record appends as primary, applies as secondary, verified reads, and the orders that
/// come back in heartbeat replies.
/// </summary>
internal sealed partial class ChunkserverService
{
    private readonly ChunkserverOptions options;
    private readonly IChunkStore store;
    private readonly RpcClient rpc;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly long storeChunkSize;
    private readonly PushService pushes;
    private int activeRequests;

    public ChunkserverService(ChunkserverOptions options, IChunkStore store, long storeChunkSize, string serverId, RpcClient rpc, TimeProvider time, ILogger logger)
    {
        this.options = options;
        this.store = store;
        this.storeChunkSize = storeChunkSize;
        this.rpc = rpc;
        this.time = time;
        this.logger = logger;
        ServerId = serverId;
        Buffer = new PushBuffer(options.BufferBytes, options.BufferTtl, time);
        pushes = new PushService(Buffer, rpc, () => Url, time, logger);
        Chunks = new ChunkTable();
        StartedUnixMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        store.CorruptChunkDetected += (_, e) =>
        {
            ChunkserverLog.Corrupt(logger, e.Handle, e.Reason);
            Chunks.MarkChanged(e.Handle);
        };
    }

    public string ServerId { get; }

    /// <summary>The URL other nodes reach this server at; set once it listens.</summary>
    public string Url { get; set; } = "";

    public long StartedUnixMs { get; }

    public PushBuffer Buffer { get; }

    public ChunkTable Chunks { get; }

    public IChunkStore Store => store;

    public int ActiveRequests => Volatile.Read(ref activeRequests);

    public TimeProvider Time => time;

    private long highestTerm;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, long> fenced = new();
    private volatile bool checkedByLeader;

    /// <summary>
    /// True once the leader has checked this server's replicas since it started (or when fencing is
    /// off): until then no replica is read, because one may have missed mutations while the server was down.
    /// </summary>
    public bool ReadsAllowed => checkedByLeader || !options.FenceReadsUntilChecked;

    /// <summary>The leader's check of this start's full report arrived (its fences and deletes are marked).</summary>
    public void CheckedByLeader() => checkedByLeader = true;

    /// <summary>The leader said the replica is stale up to <paramref name="version"/> (0: any): no reads of it from now on.</summary>
    public void Fence(long handle, long version)
        => fenced.AddOrUpdate(handle, version == 0 ? long.MaxValue : version, (_, old) => Math.Max(old, version == 0 ? long.MaxValue : version));

    /// <summary>How many replicas are fenced.</summary>
    internal int FencedCount => fenced.Count;

    /// <summary>Refuses a read of a replica the leader fenced, or of any replica before the leader checked them.</summary>
    private void CheckReadable(long handle, long version)
    {
        if (!ReadsAllowed)
        {
            throw new GfsException(ErrorCode.Unavailable, "this chunkserver started recently and serves reads once the leader has checked its replicas");
        }

        if (fenced.TryGetValue(handle, out var upTo))
        {
            if (version <= upTo)
            {
                throw new GfsException(ErrorCode.StaleVersion, $"the replica of chunk {handle:x16} at version {version} is stale (fenced by the leader)");
            }

            fenced.TryRemove(new KeyValuePair<long, long>(handle, upTo)); // a grant raised it since
        }
    }

    /// <summary>The highest leader term seen in a grant or a heartbeat reply.</summary>
    public long HighestTerm => Interlocked.Read(ref highestTerm);

    /// <summary>
    /// Notes a leader's <paramref name="term"/>; true when it is at least the highest seen, i.e. the
    /// leader's orders may be obeyed (an older term is a deposed leader's).
    /// </summary>
    public bool ObserveTerm(long term)
    {
        while (true)
        {
            var seen = Interlocked.Read(ref highestTerm);
            if (term < seen)
            {
                return false;
            }

            if (term == seen || Interlocked.CompareExchange(ref highestTerm, term, seen) == seen)
            {
                return true;
            }
        }
    }

    public void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapRpc<GrantRequest, GrantReply>(ChunkRoutes.Grant, (r, c) => Tracked(() => GrantAsync(r, c)));
        endpoints.MapRpc<WriteRequest, WriteReply>(ChunkRoutes.Write, (r, c) => Tracked(() => WriteAsync(r, c)));
        endpoints.MapRpc<AppendRequest, AppendReply>(ChunkRoutes.Append, (r, c) => Tracked(() => AppendAsync(r, c)));
        endpoints.MapRpc<ApplyRequest, ApplyReply>(ChunkRoutes.Apply, (r, c) => Tracked(() => ApplyAsync(r, c)));
        endpoints.MapDownloadRpc<ReadRequest, ReadHeader>(ChunkRoutes.Read, (r, c) => Tracked(() => ReadAsync(r, c)));
        endpoints.MapRpc<ChunkInfoRequest, ChunkInfoReply>(ChunkRoutes.Info, (r, _) => ValueTask.FromResult(Info(r)));
        endpoints.MapRpc<Empty, ChunkserverStatus>(ChunkRoutes.Status, (_, _) => ValueTask.FromResult(Status()));
        pushes.Map(endpoints); // chunk/Push, chunk/Fetch, chunk/Pull
    }

    public ChunkserverStatus Status()
    {
        var stats = store.GetStats();
        var now = time.GetTimestamp();
        return new ChunkserverStatus
        {
            ServerId = ServerId,
            Url = Url,
            Rack = options.Rack,
            CapacityBytes = stats.TotalBytes,
            FreeBytes = stats.FreeBytes,
            UsedBytes = stats.BytesUsed,
            ChunkCount = (int)stats.Chunks,
            Leases = Chunks.LiveLeases(now).Count,
            BufferedBytes = Buffer.BufferedBytes,
            Version = typeof(ChunkserverService).Assembly.GetName().Version?.ToString() ?? "",
        };
    }

    private ChunkInfoReply Info(ChunkInfoRequest request)
    {
        var info = Existing(request.Handle);
        CheckReadable(request.Handle, info.Version);
        var now = time.GetTimestamp();
        var (leaseVersion, expiresAt, _) = Chunks.Find(request.Handle)?.Lease() ?? default;
        var remaining = leaseVersion == info.Version && expiresAt > now ? Milliseconds(expiresAt - now) : 0;
        return new ChunkInfoReply { Version = info.Version, Length = info.Length, LeaseRemainingMs = remaining };
    }

    private async ValueTask<T> Tracked<T>(Func<ValueTask<T>> handler)
    {
        Interlocked.Increment(ref activeRequests);
        try
        {
            return await handler().ConfigureAwait(false);
        }
        catch (ChunkStoreException e)
        {
            throw StoreErrors.ToGfs(e);
        }
        finally
        {
            Interlocked.Decrement(ref activeRequests);
        }
    }

    private ChunkInfo Existing(long handle)
        => store.GetChunk(handle) is { } info
            ? info
            : throw new GfsException(ErrorCode.NotFound, $"chunk {handle:x16} is not on this server");

    private long Ticks(long milliseconds) => milliseconds * time.TimestampFrequency / 1000;

    private long Milliseconds(long ticks) => ticks * 1000 / time.TimestampFrequency;

    /// <summary>The caller's remaining budget, from the deadline header (the server's default when absent).</summary>
    /// <summary>The caller's time budget from its deadline header (at most 5 minutes).</summary>
    internal static TimeSpan Budget(RpcContext context)
    {
        if (context.Http.Request.Headers.TryGetValue(WireFormat.DeadlineHeader, out var header)
            && long.TryParse(header.ToString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms)
            && ms > 0)
        {
            return TimeSpan.FromMilliseconds(Math.Min(ms, TimeSpan.FromMinutes(5).TotalMilliseconds));
        }

        return TimeSpan.FromMinutes(5);
    }

    private async ValueTask<GrantReply> GrantAsync(GrantRequest request, RpcContext context)
    {
        var arrival = time.GetTimestamp();
        if (request.Version <= 0 || request.LeaseMs < 0 || request.ChunkSize <= 0 || request.ChunkSize > storeChunkSize)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"grant of chunk {request.Handle:x16}: version {request.Version}, lease {request.LeaseMs} ms and chunk size {request.ChunkSize} must be positive (chunk size at most {storeChunkSize})");
        }

        ChunkserverLog.Granted(logger, request.Handle, request.Version, request.Create, request.Primary, request.LeaseMs, request.Term);
        ObserveTerm(request.Term);
        var state = await Chunks.LockAsync(request.Handle, context.CancellationToken).ConfigureAwait(false);
        try
        {
            var info = store.GetChunk(request.Handle);
            var previous = info?.Version ?? 0;
            if (info is null)
            {
                if (!request.Create)
                {
                    throw new GfsException(ErrorCode.NotFound, $"chunk {request.Handle:x16} is not on this server");
                }

                await StoreErrors.Run(() => store.CreateAsync(request.Handle, request.Version, CancellationToken.None)).ConfigureAwait(false);
            }
            else if (info.Value.Version > request.Version)
            {
                throw new GfsException(ErrorCode.StaleVersion, $"chunk {request.Handle:x16} is at version {info.Value.Version}, newer than the grant's {request.Version}");
            }
            else if (info.Value.Version < request.Version)
            {
                // Also for a create: the copy left by an earlier attempt that no client used is raised.
                await StoreErrors.Run(() => store.SetVersionAsync(request.Handle, request.Version, CancellationToken.None)).ConfigureAwait(false);
            }

            state.Replicas = [.. request.Replicas];
            state.ChunkSize = request.ChunkSize;
            state.FailedSecondaries.Clear();
            if (request.Primary)
            {
                Chunks.GrantLease(state, request.Version, arrival, arrival + Ticks(request.LeaseMs));
            }
            else
            {
                state.DropLease();
            }

            Chunks.MarkChanged(request.Handle);
            return new GrantReply { Length = store.GetChunk(request.Handle)?.Length ?? 0, PreviousVersion = previous };
        }
        finally
        {
            state.Serial.Release();
        }
    }

    /// <summary>Executes one order from the leader (docs/data-path.md): Delete with its version condition, or Verify.</summary>
    public async Task ExecuteAsync(ChunkOrder order, Uri master, CancellationToken cancellationToken)
    {
        try
        {
            switch (order.Kind)
            {
                case ChunkOrderKind.Delete:
                    var state = await Chunks.LockAsync(order.Handle, cancellationToken).ConfigureAwait(false);
                    try
                    {
                        if (store.GetChunk(order.Handle) is not { } info)
                        {
                            Chunks.MarkChanged(order.Handle); // the master still thinks we hold it
                            return;
                        }

                        if (order.Version != 0 && info.Version > order.Version)
                        {
                            ChunkserverLog.DeleteSkipped(logger, master, order.Handle, info.Version, order.Version);
                            return;
                        }

                        ChunkserverLog.Deleting(logger, master, order.Handle, info.Version, order.Version);
                        state.DropLease();
                        await store.DeleteAsync(order.Handle, cancellationToken).ConfigureAwait(false);
                        Chunks.MarkChanged(order.Handle);
                        Chunks.Retire(state);
                        fenced.TryRemove(order.Handle, out _);
                    }
                    finally
                    {
                        state.Serial.Release();
                    }

                    break;
                case ChunkOrderKind.Verify:
                    if (await store.VerifyAsync(order.Handle, cancellationToken).ConfigureAwait(false) is { } damage)
                    {
                        ChunkserverLog.VerifyFailed(logger, order.Handle, damage.Message);
                        Chunks.MarkChanged(order.Handle);
                    }

                    break;
                default:
                    ChunkserverLog.OrderFailed(logger, order.Kind.ToString(), order.Handle, "unknown order");
                    break;
            }
        }
        catch (Exception e) when (e is ChunkStoreException or GfsException or OperationCanceledException)
        {
            ChunkserverLog.OrderFailed(logger, order.Kind.ToString(), order.Handle, e.Message);
        }
    }
}
