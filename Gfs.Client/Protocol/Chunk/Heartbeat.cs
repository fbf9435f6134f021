using MessagePack;

namespace Gfs.Client.Protocol.Chunk;

/// <summary>A chunkserver's heartbeat, sent to every master every second.</summary>
[MessagePackObject]
public sealed class HeartbeatRequest
{
    /// <summary>The chunkserver's persistent identity.</summary>
    [Key(0)]
    public string ServerId { get; set; } = "";

    /// <summary>The chunkserver's RPC base URL.</summary>
    [Key(1)]
    public string Url { get; set; } = "";

    /// <summary>Its rack; empty when not configured.</summary>
    [Key(2)]
    public string Rack { get; set; } = "";

    /// <summary>Size of the data disk in bytes.</summary>
    [Key(3)]
    public long CapacityBytes { get; set; }

    /// <summary>Free bytes on the data disk.</summary>
    [Key(4)]
    public long FreeBytes { get; set; }

    /// <summary>Bytes held by chunks.</summary>
    [Key(5)]
    public long UsedBytes { get; set; }

    /// <summary>Chunks held.</summary>
    [Key(6)]
    public int ChunkCount { get; set; }

    /// <summary>RPCs in progress (load).</summary>
    [Key(7)]
    public int ActiveRequests { get; set; }

    /// <summary>True when <see cref="Chunks"/> is the full chunk report; false for a plain heartbeat.</summary>
    [Key(8)]
    public bool FullReport { get; set; }

    /// <summary>Every chunk held, with its version and length (full reports only).</summary>
    [Key(9)]
    public List<ReportedChunk> Chunks { get; set; } = [];

    /// <summary>Leases this chunkserver holds as primary.</summary>
    [Key(10)]
    public List<HeldLease> Leases { get; set; } = [];

    /// <summary>Chunks whose version or length changed since the last heartbeat to this master (incremental report).</summary>
    [Key(11)]
    public List<ReportedChunk> Changed { get; set; } = [];

    /// <summary>Chunks deleted since the last heartbeat to this master.</summary>
    [Key(12)]
    public List<long> Deleted { get; set; } = [];

    /// <summary>When this chunkserver process started (Unix ms): a change means it restarted.</summary>
    [Key(13)]
    public long StartedUnixMs { get; set; }

    /// <summary>Bytes held in the push buffer.</summary>
    [Key(14)]
    public long BufferedBytes { get; set; }

    /// <summary>
    /// A full report larger than <see cref="MaxReportChunks"/> goes in parts, in consecutive
    /// heartbeats: this part's number, from 0.
    /// </summary>
    [Key(15)]
    public int FullReportPart { get; set; }

    /// <summary>True when more parts of this full report follow; the master applies it at the last part.</summary>
    [Key(16)]
    public bool FullReportMore { get; set; }

    /// <summary>Most chunks one heartbeat carries in <see cref="Chunks"/> (about 2–4 MB of MessagePack).</summary>
    public const int MaxReportChunks = 200_000;
}

/// <summary>One chunk in a chunk report.</summary>
[MessagePackObject]
public sealed class ReportedChunk
{
    /// <summary>The chunk handle.</summary>
    [Key(0)]
    public long Handle { get; set; }

    /// <summary>The replica's version.</summary>
    [Key(1)]
    public long Version { get; set; }

    /// <summary>The replica's length in bytes.</summary>
    [Key(2)]
    public long Length { get; set; }
}

/// <summary>A lease a chunkserver holds as primary.</summary>
[MessagePackObject]
public sealed class HeldLease
{
    /// <summary>The chunk handle.</summary>
    [Key(0)]
    public long Handle { get; set; }

    /// <summary>The version the lease was granted for.</summary>
    [Key(1)]
    public long Version { get; set; }

    /// <summary>Milliseconds left on the chunkserver's own monotonic clock.</summary>
    [Key(2)]
    public long RemainingMs { get; set; }

    /// <summary>Mutations flowed since the last heartbeat: the primary asks for an extension.</summary>
    [Key(3)]
    public bool WantsExtension { get; set; }
}

/// <summary>The master's answer to a heartbeat: orders (from the leader only) and lease extensions.</summary>
[MessagePackObject]
public sealed class HeartbeatReply
{
    /// <summary>Whether the answering master leads; only a leader's orders and extensions are non-empty.</summary>
    [Key(0)]
    public bool IsLeader { get; set; }

    /// <summary>The master wants a full chunk report with the next heartbeat (it does not know this server yet).</summary>
    [Key(1)]
    public bool SendFullReport { get; set; }

    /// <summary>Orders to execute.</summary>
    [Key(2)]
    public List<ChunkOrder> Orders { get; set; } = [];

    /// <summary>Leases extended: each runs for <see cref="LeaseExtension.LeaseMs"/> from the moment the heartbeat was sent.</summary>
    [Key(3)]
    public List<LeaseExtension> Extensions { get; set; } = [];

    /// <summary>Leases the master does not recognise (revoked or granted to another version): drop them.</summary>
    [Key(4)]
    public List<long> Revoked { get; set; } = [];

    /// <summary>
    /// The answering leader's Raft term. A chunkserver acts on orders, extensions and revocations only
    /// from a leader whose term is at least the highest it has seen (in grants and replies), so a
    /// deposed leader that still believes it leads, with a state older than a newer leader's grants,
    /// cannot revoke a lease it does not know of or order a replica deleted on old information.
    /// </summary>
    [Key(5)]
    public long Term { get; set; }

    /// <summary>
    /// The leader checked every replica of this server's current full report (this start of the
    /// server) for this reply: the stale ones among them are in <see cref="Orders"/>. A chunkserver
    /// that restarted serves reads only after such a reply, so a replica that missed mutations while
    /// it was down is never read in between.
    /// </summary>
    [Key(6)]
    public bool Scanned { get; set; }
}

/// <summary>What an order asks.</summary>
public enum ChunkOrderKind
{
    /// <summary>Delete the replica (stale, orphaned or over the goal).</summary>
    Delete = 1,

    /// <summary>Read and verify the replica now; a damaged one is reported in the next heartbeat.</summary>
    Verify = 2,

    /// <summary>
    /// The replica is stale (at most <see cref="ChunkOrder.Version"/>, behind the chunk's version) but is
    /// kept for now: serve no reads of it. A Delete of a replica fences it too.
    /// </summary>
    Fence = 3,
}

/// <summary>An order from the leader carried in a heartbeat reply.</summary>
[MessagePackObject]
public sealed class ChunkOrder
{
    /// <summary>What to do.</summary>
    [Key(0)]
    public ChunkOrderKind Kind { get; set; }

    /// <summary>The chunk handle.</summary>
    [Key(1)]
    public long Handle { get; set; }

    /// <summary>For Delete and Fence: only when the replica's version is at most this (0: any version).</summary>
    [Key(2)]
    public long Version { get; set; }
}

/// <summary>A lease extended by the leader.</summary>
[MessagePackObject]
public sealed class LeaseExtension
{
    /// <summary>The chunk handle.</summary>
    [Key(0)]
    public long Handle { get; set; }

    /// <summary>The version the lease is for.</summary>
    [Key(1)]
    public long Version { get; set; }

    /// <summary>The lease's new length, counted from when the heartbeat was sent.</summary>
    [Key(2)]
    public long LeaseMs { get; set; }
}
