using Gfs.Client.Protocol.Chunk;

namespace Gfs.Master.Cluster;

/// <summary>
/// Soft state every master replica rebuilds from chunkserver heartbeats: the servers, which replica
/// of which chunk each holds (version, length), replicas clients reported damaged, and the leases
/// primaries report. Nothing here is logged. Thread-safe; time is the monotonic clock of the
/// injected <see cref="TimeProvider"/>.
/// </summary>
public sealed partial class ChunkserverRegistry
{
    private readonly Lock gate = new();
    private readonly TimeProvider time;
    private readonly Dictionary<string, Server> servers = new(StringComparer.Ordinal);
    private readonly Dictionary<long, Dictionary<string, Replica>> replicas = [];
    private readonly Dictionary<long, ReportedLease> reportedLeases = [];

    public ChunkserverRegistry(TimeProvider time, DataPathOptions options)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(options);
        this.time = time;
        Options = options;
    }

    public DataPathOptions Options { get; }

    /// <summary>
    /// Raised (outside the registry's lock) with a server's id when a heartbeat shows it started again
    /// since its last one: whatever it held in memory, leases included, is gone.
    /// </summary>
    public event Action<string>? Restarted;

    /// <summary>Now on the monotonic clock, in <see cref="TimeProvider.TimestampFrequency"/> ticks.</summary>
    public long Now => time.GetTimestamp();

    /// <summary>Converts a span into monotonic ticks.</summary>
    public long Ticks(TimeSpan span) => (long)(span.TotalSeconds * time.TimestampFrequency);

    /// <summary>Converts monotonic ticks into milliseconds.</summary>
    public long Milliseconds(long ticks) => ticks * 1000 / time.TimestampFrequency;

    /// <summary>
    /// Records a heartbeat: the server's identity and load, its chunk report (a full report replaces
    /// what was known of the server; an incremental one applies changes and deletions) and the leases
    /// it holds. Returns true when the master wants a full report next (it does not know the server
    /// yet, or the server restarted since its last full report).
    /// </summary>
    public bool Record(HeartbeatRequest heartbeat)
    {
        ArgumentNullException.ThrowIfNull(heartbeat);
        if (string.IsNullOrEmpty(heartbeat.ServerId))
        {
            throw new Gfs.Client.Protocol.GfsException(Gfs.Client.Protocol.ErrorCode.InvalidArgument, "a heartbeat needs a server id");
        }

        var now = Now;
        bool wantsFullReport;
        var restarted = false;
        lock (gate)
        {
            if (!servers.TryGetValue(heartbeat.ServerId, out var server))
            {
                server = new Server(heartbeat.ServerId);
                servers.Add(server.Id, server);
            }

            if (server.Incarnation != 0 && server.Incarnation != heartbeat.StartedUnixMs)
            {
                restarted = true;
                server.SentOrders.Clear(); // its queue of orders died with it
                foreach (var lost in reportedLeases.Where(l => l.Value.ServerId == server.Id).Select(l => l.Key).ToList())
                {
                    reportedLeases.Remove(lost);
                }
            }

            server.Incarnation = heartbeat.StartedUnixMs;

            server.Url = heartbeat.Url;
            server.Rack = heartbeat.Rack;
            server.CapacityBytes = heartbeat.CapacityBytes;
            server.FreeBytes = heartbeat.FreeBytes;
            server.UsedBytes = heartbeat.UsedBytes;
            server.ChunkCount = heartbeat.ChunkCount;
            server.ActiveRequests = heartbeat.ActiveRequests;
            server.BufferedBytes = heartbeat.BufferedBytes;
            server.LastHeartbeat = now;
            server.LeaseCount = heartbeat.Leases.Count;

            if (heartbeat.FullReport && CollectReport(server, heartbeat) is { } report)
            {
                foreach (var handle in server.Chunks.Keys)
                {
                    RemoveReplica(handle, server.Id);
                }

                server.Chunks.Clear();
                foreach (var chunk in report)
                {
                    SetReplica(server, chunk);
                }

                server.StartedUnixMs = heartbeat.StartedUnixMs;
                server.FullReportSeen = true;

                // Full reports come about once a minute per server: a fine moment to forget expired leases.
                foreach (var expired in reportedLeases.Where(l => l.Value.ExpiresAt <= now).Select(l => l.Key).ToList())
                {
                    reportedLeases.Remove(expired);
                }

                server.NextScan = now; // check its replicas at once
            }

            foreach (var chunk in heartbeat.Changed)
            {
                SetReplica(server, chunk);
            }

            foreach (var handle in heartbeat.Deleted)
            {
                if (server.Chunks.Remove(handle))
                {
                    RemoveReplica(handle, server.Id);
                }
            }

            foreach (var lease in heartbeat.Leases)
            {
                var expires = now + Ticks(TimeSpan.FromMilliseconds(Math.Max(0, lease.RemainingMs)) + Options.LeaseGrace);
                if (!reportedLeases.TryGetValue(lease.Handle, out var known) || known.Version < lease.Version
                    || (known.Version == lease.Version && known.ServerId == server.Id) || known.ExpiresAt <= now)
                {
                    reportedLeases[lease.Handle] = new ReportedLease(server.Id, lease.Version, expires);
                }
            }

            wantsFullReport = !server.FullReportSeen || server.StartedUnixMs != heartbeat.StartedUnixMs || server.ReportGap;
        }

        if (restarted)
        {
            Restarted?.Invoke(heartbeat.ServerId);
        }

        return wantsFullReport;
    }

    /// <summary>
    /// Gathers a full report sent in parts (<see cref="HeartbeatRequest.FullReportPart"/>): the whole
    /// report at its last part, null before. A part out of sequence drops what was gathered and makes
    /// the master ask for the full report again; until a report is complete the server's replicas
    /// stay as they were.
    /// </summary>
    private static List<ReportedChunk>? CollectReport(Server server, HeartbeatRequest heartbeat)
    {
        if (heartbeat.FullReportPart == 0)
        {
            server.ReportGap = false;
            server.PendingReportNext = 1;
            server.PendingReport = heartbeat.FullReportMore ? [.. heartbeat.Chunks] : null;
            return heartbeat.FullReportMore ? null : heartbeat.Chunks;
        }

        if (server.PendingReport is not { } pending || heartbeat.FullReportPart != server.PendingReportNext)
        {
            server.PendingReport = null;
            server.ReportGap = true;
            return null;
        }

        pending.AddRange(heartbeat.Chunks);
        if (heartbeat.FullReportMore)
        {
            server.PendingReportNext = heartbeat.FullReportPart + 1;
            return null;
        }

        server.PendingReport = null;
        return pending;
    }

    private void SetReplica(Server server, ReportedChunk chunk)
    {
        server.Chunks[chunk.Handle] = chunk.Version;
        if (!replicas.TryGetValue(chunk.Handle, out var holders))
        {
            holders = new Dictionary<string, Replica>(StringComparer.Ordinal);
            replicas.Add(chunk.Handle, holders);
        }

        // A replica reported bad is trusted again once it reports itself after the Verify order.
        var bad = holders.TryGetValue(server.Id, out var old) && old.Bad && !old.VerifyOrdered;
        holders[server.Id] = new Replica(chunk.Version, chunk.Length, bad, VerifyOrdered: false);
    }

    private void RemoveReplica(long handle, string serverId)
    {
        if (replicas.TryGetValue(handle, out var holders) && holders.Remove(serverId) && holders.Count == 0)
        {
            replicas.Remove(handle);
        }
    }

    /// <summary>True when the server's last heartbeat is more recent than the dead-after limit.</summary>
    public bool IsLive(string serverId)
    {
        lock (gate)
        {
            return servers.TryGetValue(serverId, out var s) && IsLive(s, Now);
        }
    }

    private bool IsLive(Server server, long now) => now - server.LastHeartbeat < Ticks(Options.DeadAfter);

    /// <summary>
    /// What this master knows now of <paramref name="serverId"/>'s replica of <paramref name="handle"/>:
    /// null unless the server is live and its full chunk report of this start has been seen (only then
    /// does a missing replica mean the server does not hold the chunk); otherwise the replica's version,
    /// 0 when it holds none.
    /// </summary>
    public long? ReplicaVersionOn(string serverId, long handle)
    {
        var now = Now;
        lock (gate)
        {
            if (!servers.TryGetValue(serverId, out var server) || !IsLive(server, now) || !server.FullReportSeen
                || server.StartedUnixMs != server.Incarnation)
            {
                return null;
            }

            return server.Chunks.TryGetValue(handle, out var version) ? version : 0;
        }
    }

    /// <summary>The server's location, when known.</summary>
    public ReplicaLocation? Find(string serverId)
    {
        lock (gate)
        {
            return servers.TryGetValue(serverId, out var s) ? s.Location() : null;
        }
    }

    /// <summary>
    /// Up-to-date replicas (version equal to <paramref name="version"/>) on live servers, not reported
    /// bad, nearest <paramref name="clientHost"/> first, then the less busy; and the largest length
    /// among them.
    /// </summary>
    public List<ReplicaLocation> Locations(long handle, long version, string? clientHost, out long length)
    {
        length = 0;
        var now = Now;
        var found = new List<(Server Server, Replica Replica)>();
        lock (gate)
        {
            if (!replicas.TryGetValue(handle, out var holders))
            {
                return [];
            }

            foreach (var (id, replica) in holders)
            {
                if (replica.Version == version && !replica.Bad && servers.TryGetValue(id, out var server) && IsLive(server, now))
                {
                    found.Add((server, replica));
                    length = Math.Max(length, replica.Length);
                }
            }

            found.Sort((a, b) =>
            {
                var near = IsNear(b.Server, clientHost).CompareTo(IsNear(a.Server, clientHost));
                if (near != 0)
                {
                    return near;
                }

                var load = a.Server.ActiveRequests.CompareTo(b.Server.ActiveRequests);
                return load != 0 ? load : string.CompareOrdinal(a.Server.Id, b.Server.Id);
            });
            return found.Select(f => f.Server.Location()).ToList();
        }
    }

    private static bool IsNear(Server server, string? clientHost)
        => !string.IsNullOrEmpty(clientHost) && server.Host.Length > 0
            && string.Equals(server.Host, clientHost.Trim('[', ']'), StringComparison.OrdinalIgnoreCase);

    /// <summary>Records what a Grant reply told: the server now holds <paramref name="handle"/> at <paramref name="version"/>.</summary>
    public void RecordGrant(long handle, long version, string serverId, long length)
    {
        lock (gate)
        {
            if (servers.TryGetValue(serverId, out var server))
            {
                SetReplica(server, new ReportedChunk { Handle = handle, Version = version, Length = length });
            }
        }
    }

    /// <summary>A client saw a checksum mismatch: the replica is not handed out until it reports again after a Verify.</summary>
    public void MarkBad(long handle, string serverId)
    {
        lock (gate)
        {
            if (replicas.TryGetValue(handle, out var holders) && holders.TryGetValue(serverId, out var replica)
                && servers.TryGetValue(serverId, out var server))
            {
                holders[serverId] = replica with { Bad = true, VerifyOrdered = false };
                server.PendingVerify.Add(handle);
            }
        }
    }

    /// <summary>The lease the chunk's primary last reported, if it may still run.</summary>
    public ReportedLease? ReportedLeaseOf(long handle)
    {
        lock (gate)
        {
            return reportedLeases.TryGetValue(handle, out var lease) && lease.ExpiresAt > Now ? lease : null;
        }
    }

    /// <summary>Every server heard from, for the master's status.</summary>
    public List<ChunkserverStatus> Status()
    {
        var now = Now;
        lock (gate)
        {
            return servers.Values.OrderBy(s => s.Id, StringComparer.Ordinal).Select(s => new ChunkserverStatus
            {
                ServerId = s.Id,
                Url = s.Url,
                Rack = s.Rack,
                CapacityBytes = s.CapacityBytes,
                FreeBytes = s.FreeBytes,
                UsedBytes = s.UsedBytes,
                ChunkCount = s.ChunkCount,
                Leases = s.LeaseCount,
                BufferedBytes = s.BufferedBytes,
                LastHeartbeatMsAgo = Milliseconds(now - s.LastHeartbeat),
                Dead = !IsLive(s, now),
            }).ToList();
        }
    }

    /// <summary>The replicas one server holds, by handle (version, length).</summary>
    public Dictionary<long, ReportedChunk> ReplicasOf(string serverId)
    {
        lock (gate)
        {
            var result = new Dictionary<long, ReportedChunk>();
            if (servers.TryGetValue(serverId, out var server))
            {
                foreach (var handle in server.Chunks.Keys)
                {
                    var r = replicas[handle][serverId];
                    result[handle] = new ReportedChunk { Handle = handle, Version = r.Version, Length = r.Length };
                }
            }

            return result;
        }
    }

    /// <summary>A lease a primary reported: on this master's monotonic clock it may run until <see cref="ExpiresAt"/>.</summary>
    public sealed record ReportedLease(string ServerId, long Version, long ExpiresAt);

    private readonly record struct Replica(long Version, long Length, bool Bad, bool VerifyOrdered);

    private sealed class Server(string id)
    {
        public string Id { get; } = id;

        /// <summary>The server's URL; setting it also sets <see cref="Host"/> (parsed once, not on every location sort).</summary>
        public string Url
        {
            get;
            set
            {
                if (value != field)
                {
                    field = value;
                    Host = Uri.TryCreate(value, UriKind.Absolute, out var url) ? url.Host.Trim('[', ']') : "";
                }
            }
        } = "";

        /// <summary>The host of <see cref="Url"/> without IPv6 brackets; empty when the URL does not parse.</summary>
        public string Host { get; private set; } = "";

        public string Rack { get; set; } = "";

        public long CapacityBytes { get; set; }

        public long FreeBytes { get; set; }

        public long UsedBytes { get; set; }

        public int ChunkCount { get; set; }

        public int ActiveRequests { get; set; }

        public long BufferedBytes { get; set; }

        public int LeaseCount { get; set; }

        public long StartedUnixMs { get; set; }

        /// <summary>The start time the server's last heartbeat named (0 before the first): a change is a restart.</summary>
        public long Incarnation { get; set; }

        public bool FullReportSeen { get; set; }

        /// <summary>Parts of a full report received so far (null: none pending).</summary>
        public List<ReportedChunk>? PendingReport { get; set; }

        /// <summary>The part of the pending report expected next.</summary>
        public int PendingReportNext { get; set; }

        /// <summary>A part went missing: the server is asked for its full report again.</summary>
        public bool ReportGap { get; set; }

        public long LastHeartbeat { get; set; }

        /// <summary>The replicas the server holds: handle → version (the same version as in the chunk's holders).</summary>
        public Dictionary<long, long> Chunks { get; } = [];

        /// <summary>Chunks placed here recently, decaying (see <see cref="DataPathOptions.CreationHalfLife"/>).</summary>
        public double RecentCreations { get; set; }

        public long RecentAt { get; set; }

        public long NextScan { get; set; }

        /// <summary>Replicas marked bad whose Verify order has not been sent yet.</summary>
        public HashSet<long> PendingVerify { get; } = [];

        /// <summary>Orders sent and when, so the same order is not repeated every second.</summary>
        public Dictionary<(ChunkOrderKind Kind, long Handle), long> SentOrders { get; } = [];

        public ReplicaLocation Location() => new() { ServerId = Id, Url = Url, Rack = Rack };
    }
}
