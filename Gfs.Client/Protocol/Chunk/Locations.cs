using MessagePack;

namespace Gfs.Client.Protocol.Chunk;

/// <summary>One chunkserver holding a replica.</summary>
[MessagePackObject]
public sealed class ReplicaLocation
{
    /// <summary>The chunkserver's persistent identity (kept in its data directory).</summary>
    [Key(0)]
    public string ServerId { get; set; } = "";

    /// <summary>The chunkserver's RPC base URL, for example <c>http://127.0.0.1:7001/</c>.</summary>
    [Key(1)]
    public string Url { get; set; } = "";

    /// <summary>The rack the chunkserver was started in; empty when not configured.</summary>
    [Key(2)]
    public string Rack { get; set; } = "";
}

/// <summary>A chunk of a file with its current version and its up-to-date replicas.</summary>
[MessagePackObject]
public sealed class ChunkLocation
{
    /// <summary>Position of the chunk in the file: it covers [Index × ChunkSize, (Index + 1) × ChunkSize).</summary>
    [Key(0)]
    public int Index { get; set; }

    /// <summary>The chunk handle, unique in the cluster.</summary>
    [Key(1)]
    public long Handle { get; set; }

    /// <summary>The chunk's current version; replicas below it are stale and never listed.</summary>
    [Key(2)]
    public long Version { get; set; }

    /// <summary>The largest length an up-to-date replica reported (may trail a write in flight).</summary>
    [Key(3)]
    public long Length { get; set; }

    /// <summary>Up-to-date replicas, the ones nearest the caller first.</summary>
    [Key(4)]
    public List<ReplicaLocation> Replicas { get; set; } = [];
}

/// <summary>A file's attributes and the locations of a range of its chunks.</summary>
[MessagePackObject]
public sealed class GetChunksRequest
{
    /// <summary>The file's path (UTF-8).</summary>
    [Key(0)]
    public byte[] Path { get; set; } = [];

    /// <summary>The first chunk index wanted.</summary>
    [Key(1)]
    public int FirstIndex { get; set; }

    /// <summary>How many chunks are wanted; 0 means the server's page size.</summary>
    [Key(2)]
    public int Count { get; set; }

    /// <summary>The caller's host name or address, to sort replicas nearest first; empty when unknown.</summary>
    [Key(3)]
    public string ClientHost { get; set; } = "";
}

/// <summary>Reply to <see cref="ChunkRoutes.GetChunks"/>.</summary>
[MessagePackObject]
public sealed class GetChunksReply
{
    /// <summary>The file's attributes (size, chunk size, chunk count, goal).</summary>
    [Key(0)]
    public Master.EntryAttributes Attributes { get; set; } = new();

    /// <summary>The chunks from the first index asked for, in order; fewer at the file's end.</summary>
    [Key(1)]
    public List<ChunkLocation> Chunks { get; set; } = [];
}

/// <summary>Asks the leader for a chunk's primary and lease, allocating the chunk first if asked.</summary>
[MessagePackObject]
public sealed class LeaseChunkRequest
{
    /// <summary>The file's path (UTF-8).</summary>
    [Key(0)]
    public byte[] Path { get; set; } = [];

    /// <summary>The chunk's index in the file.</summary>
    [Key(1)]
    public int Index { get; set; }

    /// <summary>
    /// Allocate the chunk when the file has exactly <see cref="Index"/> chunks. When another client
    /// allocated it first, the existing chunk is leased instead; never an error.
    /// </summary>
    [Key(2)]
    public bool Allocate { get; set; }

    /// <summary>Servers that failed the caller's last attempt: they are left out of the next lease, which raises the version.</summary>
    [Key(3)]
    public List<string> Failed { get; set; } = [];

    /// <summary>The caller's host name or address, to order the push chain nearest first.</summary>
    [Key(4)]
    public string ClientHost { get; set; } = "";

    /// <summary>
    /// The inode id of the file the caller opened (<see cref="Master.EntryAttributes.Id"/>): when the
    /// path names another file now (deleted and created again), the lease and any allocation are
    /// refused with <see cref="ErrorCode.FileReplaced"/>. 0: not checked.
    /// </summary>
    [Key(5)]
    public long FileId { get; set; }
}

/// <summary>Client → leader: <see cref="ChunkRoutes.CreateLeased"/>.</summary>
[MessagePackObject]
public sealed class CreateLeasedRequest
{
    /// <summary>The exactly-once identity: a retry with the same ids returns the first outcome.</summary>
    [Key(0)]
    public Master.MutationHeader Header { get; set; } = new();

    /// <summary>The create (kind <see cref="Master.NamespaceOpKind.CreateFile"/>: path, goal, chunk size).</summary>
    [Key(1)]
    public Master.NamespaceOp Op { get; set; } = new();

    /// <summary>The caller's host name or address, to order the replicas nearest first.</summary>
    [Key(2)]
    public string ClientHost { get; set; } = "";
}

/// <summary>Reply to <see cref="ChunkRoutes.CreateLeased"/>: the file exists.</summary>
[MessagePackObject]
public sealed class CreateLeasedReply
{
    /// <summary>
    /// The lease on the file's first chunk; null when no chunk could be placed or granted now (no live
    /// chunkserver with room, a retried create): the first write then allocates or leases it as usual.
    /// </summary>
    [Key(0)]
    public LeaseChunkReply? Lease { get; set; }

    /// <summary>The created file's inode id: writers name it in leases and length reports, so they never touch a file that replaced it.</summary>
    [Key(1)]
    public long Id { get; set; }
}

/// <summary>Reply to <see cref="ChunkRoutes.LeaseChunk"/>.</summary>
[MessagePackObject]
public sealed class LeaseChunkReply
{
    /// <summary>The chunk with its version and every replica that holds that version (the primary among them).</summary>
    [Key(0)]
    public ChunkLocation Chunk { get; set; } = new();

    /// <summary>The primary's server id.</summary>
    [Key(1)]
    public string PrimaryId { get; set; } = "";

    /// <summary>Milliseconds the lease has left as the master sees it.</summary>
    [Key(2)]
    public long LeaseRemainingMs { get; set; }

    /// <summary>The file's chunk size in bytes.</summary>
    [Key(3)]
    public int ChunkSize { get; set; }
}

/// <summary>Why a replica is reported.</summary>
public enum ReplicaProblem
{
    /// <summary>It returned a checksum mismatch.</summary>
    ChecksumMismatch = 1,

    /// <summary>It could not be reached.</summary>
    Unreachable = 2,

    /// <summary>It refused a mutation or a read (stale version, missing chunk, failed disk).</summary>
    Refused = 3,
}

/// <summary>A client reports a replica that failed it.</summary>
[MessagePackObject]
public sealed class ReportReplicaRequest
{
    /// <summary>The chunk handle.</summary>
    [Key(0)]
    public long Handle { get; set; }

    /// <summary>The version the client expected.</summary>
    [Key(1)]
    public long Version { get; set; }

    /// <summary>The failing chunkserver.</summary>
    [Key(2)]
    public string ServerId { get; set; } = "";

    /// <summary>What went wrong.</summary>
    [Key(3)]
    public ReplicaProblem Problem { get; set; }

    /// <summary>The error message, for the master's log.</summary>
    [Key(4)]
    public string Detail { get; set; } = "";
}

/// <summary>An empty reply.</summary>
[MessagePackObject]
public sealed class Empty
{
    /// <summary>The one instance.</summary>
    public static readonly Empty Instance = new();
}
