using System.Threading.Channels;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Transport;
using Gfs.Storage;
using Microsoft.Extensions.Logging;

namespace Gfs.Node.Chunkserver;

/// <summary>
/// The chunkserver's background work: one heartbeat loop per master (each master keeps its own soft
/// state, so each gets its own full and incremental reports), the queue that executes the leader's
/// orders, and the sweeper that drops expired pushes. Failures are logged (rate-limited) and retried.
/// </summary>
internal sealed class ChunkserverWorker : IAsyncDisposable
{
    private static readonly TimeSpan WarnEvery = TimeSpan.FromSeconds(30);
    private readonly ChunkserverService service;
    private readonly ChunkserverOptions options;
    private readonly RpcClient rpc;
    private readonly ILogger logger;
    private readonly TimeProvider time;
    private readonly Channel<(ChunkOrder Order, Uri Master)> orders = Channel.CreateUnbounded<(ChunkOrder, Uri)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource stop = new();
    private readonly List<Task> loops = [];

    public ChunkserverWorker(ChunkserverService service, ChunkserverOptions options, RpcClient rpc, ILogger logger)
    {
        this.service = service;
        this.options = options;
        this.rpc = rpc;
        this.logger = logger;
        time = service.Time;
        Masters = [.. options.Masters.Select(m => new MasterLink(m))];
    }

    public IReadOnlyList<MasterLink> Masters { get; }

    /// <summary>The master that last said it leads, or null.</summary>
    public Uri? Leader => Masters.FirstOrDefault(m => m.IsLeader)?.Url;

    public void Start()
    {
        foreach (var master in Masters)
        {
            loops.Add(Task.Run(() => HeartbeatLoopAsync(master)));
        }

        loops.Add(Task.Run(OrderLoopAsync));
        loops.Add(Task.Run(SweepLoopAsync));
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        orders.Writer.TryComplete();
        try
        {
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }

        stop.Dispose();
    }

    /// <summary>
    /// Sends one heartbeat to <paramref name="master"/> and handles its reply; false when the master
    /// could not be reached. A full report longer than <see cref="ChunkserverOptions.ReportPartChunks"/>
    /// goes in parts, back to back; it counts as sent only when the last part was acknowledged (a
    /// failed part makes the next heartbeat start the report again).
    /// </summary>
    internal async Task<bool> BeatAsync(MasterLink master, CancellationToken cancellationToken)
    {
        var sentAt = time.GetTimestamp();
        var full = NextIsFull(master, sentAt);
        var stamp = service.Chunks.CurrentStamp;
        var request = Build(master, full, sentAt);
        if (full && request.Chunks.Count > options.ReportPartChunks)
        {
            // The same request goes once per part, each time with the next slice of the chunks; the last part is sent below.
            var all = request.Chunks;
            var size = options.ReportPartChunks;
            for (var from = 0; ; from += size)
            {
                request.Chunks = all.GetRange(from, Math.Min(size, all.Count - from));
                request.FullReportPart = from / size;
                request.FullReportMore = from + size < all.Count;
                if (!request.FullReportMore)
                {
                    break;
                }

                var partSentAt = time.GetTimestamp();
                if (await SendAsync(master, request, cancellationToken).ConfigureAwait(false) is not { } partReply)
                {
                    return false;
                }

                master.IsLeader = partReply.IsLeader;
                Obey(master, partReply, partSentAt);
            }
        }

        if (await SendAsync(master, request, cancellationToken).ConfigureAwait(false) is not { } reply)
        {
            return false;
        }

        master.AckedStamp = stamp;
        master.LastSentAt = sentAt;
        if (full)
        {
            master.LastFullAt = sentAt;
        }

        master.NeedFull = reply.SendFullReport;
        master.IsLeader = reply.IsLeader;
        service.Chunks.Prune(PruneFloor(time.GetTimestamp()));
        Obey(master, reply, sentAt);
        return true;
    }

    /// <summary>One heartbeat call; null (logged, rate-limited) when the master could not be reached.</summary>
    private async Task<HeartbeatReply?> SendAsync(MasterLink master, HeartbeatRequest request, CancellationToken cancellationToken)
    {
        HeartbeatReply reply;
        try
        {
            var budget = TimeSpan.FromTicks(Math.Min(options.PeerCallTimeout.Ticks, Math.Max(TimeSpan.FromSeconds(2).Ticks, options.HeartbeatInterval.Ticks * 3)));
            reply = await rpc.CallAsync<HeartbeatRequest, HeartbeatReply>(master.Url, ChunkRoutes.Heartbeat, request, budget, cancellationToken).ConfigureAwait(false);
        }
        catch (GfsException e)
        {
            master.Failures++;
            if (master.Failures == 1 || time.GetElapsedTime(master.LastWarnAt) >= WarnEvery)
            {
                master.LastWarnAt = time.GetTimestamp();
                ChunkserverLog.HeartbeatFailed(logger, master.Url, master.Failures, e.Message);
            }

            return null;
        }

        if (master.Failures > 0)
        {
            ChunkserverLog.HeartbeatRecovered(logger, master.Url, reply.IsLeader);
            master.Failures = 0;
        }

        return reply;
    }

    /// <summary>Acts on the leader's lease extensions, revocations and orders (a follower's are ignored).</summary>
    private void Obey(MasterLink master, HeartbeatReply reply, long sentAt)
    {
        if (!reply.IsLeader)
        {
            return; // only the leader's orders and leases count
        }

        if (!service.ObserveTerm(reply.Term))
        {
            ChunkserverLog.OldLeaderIgnored(logger, master.Url, reply.Term, service.HighestTerm);
            return; // a deposed leader that has not noticed yet: its view predates grants we hold
        }

        foreach (var extension in reply.Extensions)
        {
            var expires = sentAt + (extension.LeaseMs * time.TimestampFrequency / 1000);
            service.Chunks.Find(extension.Handle)?.Extend(extension.Version, sentAt, expires);
        }

        foreach (var handle in reply.Revoked)
        {
            service.Chunks.Find(handle)?.Revoke(before: sentAt);
        }

        foreach (var order in reply.Orders)
        {
            if (order.Kind is ChunkOrderKind.Delete or ChunkOrderKind.Fence)
            {
                service.Fence(order.Handle, order.Version); // at once: reads stop before the delete runs
            }

            if (order.Kind != ChunkOrderKind.Fence)
            {
                orders.Writer.TryWrite((order, master.Url));
            }
        }

        if (reply.Scanned)
        {
            service.CheckedByLeader();
        }
    }

    /// <summary>
    /// Whether the next heartbeat to <paramref name="master"/> carries the full report: it asked, or
    /// no full report reached it for <see cref="ChunkserverOptions.FullReportInterval"/>. Stays true
    /// until a full report is acknowledged (a failed heartbeat changes nothing).
    /// </summary>
    private bool NextIsFull(MasterLink master, long now) => master.NeedFull || time.GetElapsedTime(master.LastFullAt, now) >= options.FullReportInterval;

    /// <summary>
    /// Changes up to this stamp are no longer needed: every master either acknowledged them or gets
    /// a full report next. A master that stays unreachable therefore does not make the change list
    /// (and every incremental report's walk over it) grow with each chunk written meanwhile.
    /// </summary>
    private long PruneFloor(long now)
    {
        var floor = long.MaxValue;
        foreach (var master in Masters)
        {
            if (!NextIsFull(master, now))
            {
                floor = Math.Min(floor, master.AckedStamp);
            }
        }

        return floor == long.MaxValue ? service.Chunks.CurrentStamp : floor;
    }

    private readonly Lock statsGate = new();
    private (ChunkStoreStats Stats, long At)? lastStats;

    /// <summary>
    /// The store's figures for a heartbeat: computed at most once per quarter heartbeat interval and
    /// shared by the heartbeats to every master (computing them walks every chunk).
    /// </summary>
    private ChunkStoreStats SharedStats(long now)
    {
        lock (statsGate)
        {
            if (lastStats is { } last && time.GetElapsedTime(last.At, now) < options.HeartbeatInterval / 4)
            {
                return last.Stats;
            }

            var stats = service.Store.GetStats();
            lastStats = (stats, now);
            return stats;
        }
    }

    private HeartbeatRequest Build(MasterLink master, bool full, long now)
    {
        var stats = SharedStats(now);
        var request = new HeartbeatRequest
        {
            ServerId = service.ServerId,
            Url = service.Url,
            Rack = options.Rack,
            CapacityBytes = stats.TotalBytes,
            FreeBytes = stats.FreeBytes,
            UsedBytes = stats.BytesUsed,
            ChunkCount = (int)stats.Chunks,
            ActiveRequests = service.ActiveRequests,
            FullReport = full,
            StartedUnixMs = service.StartedUnixMs,
            BufferedBytes = service.Buffer.BufferedBytes,
        };

        if (full)
        {
            request.Chunks = [.. service.Store.ListChunks().Where(c => !c.IsCorrupt).Select(c => new ReportedChunk { Handle = c.Handle, Version = c.Version, Length = c.Length })];
        }
        else
        {
            foreach (var handle in service.Chunks.ChangedSince(master.AckedStamp))
            {
                if (service.Store.GetChunk(handle) is { IsCorrupt: false } info)
                {
                    request.Changed.Add(new ReportedChunk { Handle = handle, Version = info.Version, Length = info.Length });
                }
                else
                {
                    request.Deleted.Add(handle);
                }
            }
        }

        foreach (var (state, version, expiresAt, lastMutation) in service.Chunks.LiveLeases(now))
        {
            request.Leases.Add(new HeldLease
            {
                Handle = state.Handle,
                Version = version,
                RemainingMs = (expiresAt - now) * 1000 / time.TimestampFrequency,
                WantsExtension = lastMutation > master.LastSentAt,
            });
        }

        return request;
    }

    private async Task HeartbeatLoopAsync(MasterLink master)
    {
        while (!stop.IsCancellationRequested)
        {
            var began = TimeProvider.System.GetTimestamp();
            try
            {
                await BeatAsync(master, stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }

            var wait = options.HeartbeatInterval - TimeProvider.System.GetElapsedTime(began);
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task OrderLoopAsync()
    {
        try
        {
            await foreach (var (order, master) in orders.Reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                await service.ExecuteAsync(order, master, stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private async Task SweepLoopAsync()
    {
        var every = TimeSpan.FromTicks(Math.Clamp(options.BufferTtl.Ticks / 4, TimeSpan.FromMilliseconds(100).Ticks, TimeSpan.FromSeconds(5).Ticks));
        var evictEvery = TimeSpan.FromTicks(Math.Min(options.ChunkStateIdle.Ticks / 4, TimeSpan.FromMinutes(1).Ticks));
        var lastEviction = time.GetTimestamp();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(every, stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var dropped = service.Buffer.Sweep();
            if (dropped > 0)
            {
                ChunkserverLog.Expired(logger, dropped);
            }

            if (time.GetElapsedTime(lastEviction) >= evictEvery)
            {
                lastEviction = time.GetTimestamp();
                var evicted = service.Chunks.EvictIdle((long)options.ChunkStateIdle.TotalMilliseconds, lastEviction);
                if (evicted > 0)
                {
                    ChunkserverLog.StatesEvicted(logger, evicted, service.Chunks.Count);
                }
            }
        }
    }

    /// <summary>What this chunkserver knows about one master.</summary>
    internal sealed class MasterLink(Uri url)
    {
        public Uri Url { get; } = url;

        /// <summary>Send a full report next (first heartbeat, or the master asked).</summary>
        public bool NeedFull { get; set; } = true;

        public long LastFullAt { get; set; }

        /// <summary>Change stamp covered by the last acknowledged heartbeat.</summary>
        public long AckedStamp { get; set; }

        /// <summary>Send time of the last acknowledged heartbeat (monotonic).</summary>
        public long LastSentAt { get; set; }

        public bool IsLeader { get; set; }

        public int Failures { get; set; }

        public long LastWarnAt { get; set; }
    }
}
