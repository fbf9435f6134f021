using MessagePack;

namespace Gfs.Client.Protocol.Chunk;

/// <summary>
/// Master → chunkserver: create the chunk (if <see cref="Create"/>) or raise its version to
/// <see cref="Version"/>, and make this chunkserver the primary (if <see cref="Primary"/>) or a secondary.
/// Sent to every replica of a lease before the lease is handed to a client.
/// </summary>
[MessagePackObject]
public sealed class GrantRequest
{
    /// <summary>The chunk handle.</summary>
    [Key(0)]
    public long Handle { get; set; }

    /// <summary>The chunk's new version (already committed in the master's log).</summary>
    [Key(1)]
    public long Version { get; set; }

    /// <summary>
    /// The chunk is new: create it empty at <see cref="Version"/>. A replica that exists at a lower
    /// version (from an earlier attempt to create it that nobody used) is raised instead.
    /// </summary>
    [Key(2)]
    public bool Create { get; set; }

    /// <summary>This chunkserver becomes the primary; otherwise it is a secondary (and drops any lease it held).</summary>
    [Key(3)]
    public bool Primary { get; set; }

    /// <summary>For the primary: the lease's length, counted from when the request arrives.</summary>
    [Key(4)]
    public long LeaseMs { get; set; }

    /// <summary>Every replica of this version, the primary first: the primary forwards each mutation to the others.</summary>
    [Key(5)]
    public List<ReplicaLocation> Replicas { get; set; } = [];

    /// <summary>The file's chunk size: the most bytes the chunk may hold.</summary>
    [Key(6)]
    public int ChunkSize { get; set; }

    /// <summary>The granting master's Raft term (for logs).</summary>
    [Key(7)]
    public long Term { get; set; }
}

/// <summary>Reply to <see cref="ChunkRoutes.Grant"/>.</summary>
[MessagePackObject]
public sealed class GrantReply
{
    /// <summary>The replica's length after the grant.</summary>
    [Key(0)]
    public long Length { get; set; }

    /// <summary>
    /// The replica's version before the grant: 0 when it did not hold the chunk, -1 when the server did
    /// not say. A replica fenced by a grant below a version never held that version: the leader's proof
    /// that nothing was acknowledged at it.
    /// </summary>
    [Key(1)]
    public long PreviousVersion { get; set; } = -1;
}

/// <summary>Header of pushed data; the body's <c>bin32</c> element carries <see cref="Length"/> bytes.</summary>
[MessagePackObject]
public sealed class PushHeader
{
    /// <summary>Names the data in the receivers' buffers; unique per client (client id and a counter).</summary>
    [Key(0)]
    public string DataId { get; set; } = "";

    /// <summary>The data's length.</summary>
    [Key(1)]
    public long Length { get; set; }

    /// <summary>CRC32C of the data: each receiver checks it before it accepts the data.</summary>
    [Key(2)]
    public uint Crc32C { get; set; }

    /// <summary>Where the receiver forwards the data next, in order (the receiver itself not included).</summary>
    [Key(3)]
    public List<string> Chain { get; set; } = [];
}

/// <summary>Reply to <see cref="ChunkRoutes.Push"/>: the data is buffered on this server and every one after it.</summary>
[MessagePackObject]
public sealed class PushReply
{
    /// <summary>Servers (URLs) that buffered the data, this one first.</summary>
    [Key(0)]
    public List<string> Buffered { get; set; } = [];

    /// <summary>
    /// Servers (URLs) further down the chain that did not get the data (unreachable, refused, bad CRC).
    /// Non-empty means the push is incomplete: the client leaves them out (LeaseChunk.Failed) and retries.
    /// </summary>
    [Key(1)]
    public List<string> Failed { get; set; } = [];

    /// <summary>
    /// Servers (URLs) that did not get the data because a server of the chain was busy (its push buffer
    /// full): that server and the ones after it, which were never asked. The servers before it drop
    /// their copies. Nobody is at fault: the client backs off and pushes again to the same replicas.
    /// </summary>
    [Key(2)]
    public List<string> Busy { get; set; } = [];
}

/// <summary>Client → primary: write pushed (or inline) data at an offset of the chunk.</summary>
[MessagePackObject]
public sealed class WriteRequest
{
    /// <summary>The chunk handle.</summary>
    [Key(0)]
    public long Handle { get; set; }

    /// <summary>The version the client's lease names; any other version is refused (StaleVersion).</summary>
    [Key(1)]
    public long Version { get; set; }

    /// <summary>Offset in the chunk; at most the chunk's length (no holes).</summary>
    [Key(2)]
    public long Offset { get; set; }

    /// <summary>The pushed data to write.</summary>
    [Key(3)]
    public string DataId { get; set; } = "";

    /// <summary>The data's length (checked against the buffered data).</summary>
    [Key(4)]
    public long Length { get; set; }

    /// <summary>
    /// The bytes themselves when <see cref="DataId"/> is empty (a small write of at most
    /// <see cref="ChunkRoutes.MaxInlineBytes"/>: no push round trip). Empty when the data was pushed.
    /// </summary>
    [Key(5)]
    public ReadOnlyMemory<byte> Data { get; set; }

    /// <summary>CRC32C of <see cref="Data"/>; checked by every replica before it applies anything.</summary>
    [Key(6)]
    public uint Crc32C { get; set; }
}

/// <summary>Reply to <see cref="ChunkRoutes.Write"/>: every replica applied the write.</summary>
[MessagePackObject]
public sealed class WriteReply
{
    /// <summary>The chunk's length after the write.</summary>
    [Key(0)]
    public long ChunkLength { get; set; }

    /// <summary>
    /// Secondaries (server ids) that did not apply the write. Non-empty means the write is NOT
    /// acknowledged: the client asks for a new lease without them and retries.
    /// </summary>
    [Key(1)]
    public List<string> FailedReplicas { get; set; } = [];
}

/// <summary>Client → primary: record append of pushed data.</summary>
[MessagePackObject]
public sealed class AppendRequest
{
    /// <summary>The chunk handle.</summary>
    [Key(0)]
    public long Handle { get; set; }

    /// <summary>The version the client's lease names.</summary>
    [Key(1)]
    public long Version { get; set; }

    /// <summary>The pushed record.</summary>
    [Key(2)]
    public string DataId { get; set; } = "";

    /// <summary>The record's length; at most a quarter of the chunk size.</summary>
    [Key(3)]
    public long Length { get; set; }

    /// <summary>The appending client's id: with <see cref="Sequence"/> it makes the append exactly-once.</summary>
    [Key(4)]
    public long ClientId { get; set; }

    /// <summary>The client's sequence number of this record; a retry reuses it.</summary>
    [Key(5)]
    public long Sequence { get; set; }

    /// <summary>
    /// The bytes themselves when <see cref="DataId"/> is empty (a small record of at most
    /// <see cref="ChunkRoutes.MaxInlineBytes"/>: no push round trip). Empty when the data was pushed.
    /// </summary>
    [Key(6)]
    public ReadOnlyMemory<byte> Data { get; set; }

    /// <summary>CRC32C of <see cref="Data"/>; checked by every replica before it applies anything.</summary>
    [Key(7)]
    public uint Crc32C { get; set; }
}

/// <summary>Reply to <see cref="ChunkRoutes.Append"/>.</summary>
[MessagePackObject]
public sealed class AppendReply
{
    /// <summary>Offset of the record in the chunk; -1 when <see cref="Padded"/>.</summary>
    [Key(0)]
    public long Offset { get; set; }

    /// <summary>The record did not fit: the chunk was padded to its full size; append to the next chunk.</summary>
    [Key(1)]
    public bool Padded { get; set; }

    /// <summary>The record was appended before (a retry): <see cref="Offset"/> is where.</summary>
    [Key(2)]
    public bool Replayed { get; set; }

    /// <summary>The chunk's length after the append.</summary>
    [Key(3)]
    public long ChunkLength { get; set; }

    /// <summary>
    /// Secondaries (server ids) that did not apply the append (or the padding). Non-empty means NOT
    /// acknowledged: the client asks for a new lease without them and retries with the same sequence.
    /// </summary>
    [Key(4)]
    public List<string> FailedReplicas { get; set; } = [];
}

/// <summary>What a serial mutation does.</summary>
public enum MutationKind
{
    /// <summary>Write buffered data at the offset.</summary>
    Write = 1,

    /// <summary>Record append of buffered data at the offset the primary chose.</summary>
    Append = 2,

    /// <summary>Zeros from the offset to the chunk's end (a record did not fit).</summary>
    Pad = 3,
}

/// <summary>Primary → secondary: one mutation in the primary's serial order.</summary>
[MessagePackObject]
public sealed class ApplyRequest
{
    /// <summary>The chunk handle.</summary>
    [Key(0)]
    public long Handle { get; set; }

    /// <summary>The lease's version; the secondary refuses any other.</summary>
    [Key(1)]
    public long Version { get; set; }

    /// <summary>What to do.</summary>
    [Key(2)]
    public MutationKind Kind { get; set; }

    /// <summary>Offset in the chunk. For an append, the secondary's length must equal it (or the record be there already).</summary>
    [Key(3)]
    public long Offset { get; set; }

    /// <summary>The buffered data (Write, Append).</summary>
    [Key(4)]
    public string DataId { get; set; } = "";

    /// <summary>Bytes written (for Pad: the zeros).</summary>
    [Key(5)]
    public long Length { get; set; }

    /// <summary>Append only: the client's id.</summary>
    [Key(6)]
    public long ClientId { get; set; }

    /// <summary>Append only: the client's sequence number.</summary>
    [Key(7)]
    public long Sequence { get; set; }

    /// <summary>The primary's serial number of this mutation within the lease (for logs and ordering checks).</summary>
    [Key(8)]
    public long Serial { get; set; }

    /// <summary>
    /// The bytes themselves when <see cref="DataId"/> is empty (forwarded as the client sent it of at most
    /// <see cref="ChunkRoutes.MaxInlineBytes"/>: no push round trip). Empty when the data was pushed.
    /// </summary>
    [Key(9)]
    public ReadOnlyMemory<byte> Data { get; set; }

    /// <summary>CRC32C of <see cref="Data"/>; checked by every replica before it applies anything.</summary>
    [Key(10)]
    public uint Crc32C { get; set; }
}

/// <summary>Reply to <see cref="ChunkRoutes.Apply"/>.</summary>
[MessagePackObject]
public sealed class ApplyReply
{
    /// <summary>The secondary's chunk length after the mutation.</summary>
    [Key(0)]
    public long ChunkLength { get; set; }
}

/// <summary>A verified read of part of a chunk (download).</summary>
[MessagePackObject]
public sealed class ReadRequest
{
    /// <summary>The chunk handle.</summary>
    [Key(0)]
    public long Handle { get; set; }

    /// <summary>The version the client expects; a replica below it answers StaleVersion.</summary>
    [Key(1)]
    public long Version { get; set; }

    /// <summary>Offset in the chunk.</summary>
    [Key(2)]
    public long Offset { get; set; }

    /// <summary>Bytes wanted; fewer come back at the chunk's end.</summary>
    [Key(3)]
    public long Length { get; set; }
}

/// <summary>Header of a read reply; the data follows in the reply's <c>bin32</c> element.</summary>
[MessagePackObject]
public sealed class ReadHeader
{
    /// <summary>The replica's version.</summary>
    [Key(0)]
    public long Version { get; set; }

    /// <summary>The replica's chunk length.</summary>
    [Key(1)]
    public long ChunkLength { get; set; }
}

/// <summary>Asks a replica for a chunk's version and length.</summary>
[MessagePackObject]
public sealed class ChunkInfoRequest
{
    /// <summary>The chunk handle.</summary>
    [Key(0)]
    public long Handle { get; set; }
}

/// <summary>A replica's version and length.</summary>
[MessagePackObject]
public sealed class ChunkInfoReply
{
    /// <summary>The replica's version.</summary>
    [Key(0)]
    public long Version { get; set; }

    /// <summary>The replica's length.</summary>
    [Key(1)]
    public long Length { get; set; }

    /// <summary>Milliseconds left on the lease this server holds as the chunk's primary (its own clock); 0 when it is not the primary.</summary>
    [Key(2)]
    public long LeaseRemainingMs { get; set; }
}

/// <summary>A chunkserver's identity and counters.</summary>
[MessagePackObject]
public sealed class ChunkserverStatus
{
    /// <summary>The persistent identity.</summary>
    [Key(0)]
    public string ServerId { get; set; } = "";

    /// <summary>Its URL.</summary>
    [Key(1)]
    public string Url { get; set; } = "";

    /// <summary>Its rack.</summary>
    [Key(2)]
    public string Rack { get; set; } = "";

    /// <summary>Disk size.</summary>
    [Key(3)]
    public long CapacityBytes { get; set; }

    /// <summary>Free disk bytes.</summary>
    [Key(4)]
    public long FreeBytes { get; set; }

    /// <summary>Bytes in chunks.</summary>
    [Key(5)]
    public long UsedBytes { get; set; }

    /// <summary>Chunks held.</summary>
    [Key(6)]
    public int ChunkCount { get; set; }

    /// <summary>Leases held as primary.</summary>
    [Key(7)]
    public int Leases { get; set; }

    /// <summary>Bytes in the push buffer.</summary>
    [Key(8)]
    public long BufferedBytes { get; set; }

    /// <summary>The build's version.</summary>
    [Key(9)]
    public string Version { get; set; } = "";

    /// <summary>In a master's status: milliseconds since its last heartbeat; 0 when the chunkserver answers for itself.</summary>
    [Key(10)]
    public long LastHeartbeatMsAgo { get; set; }

    /// <summary>In a master's status: the chunkserver missed heartbeats long enough to count as dead.</summary>
    [Key(11)]
    public bool Dead { get; set; }
}

/// <summary>Asks the next chunkserver of a push chain to pull the data from <see cref="Source"/> and pass it on.</summary>
[MessagePackObject]
public sealed class FetchRequest
{
    /// <summary>The data id.</summary>
    [Key(0)]
    public string DataId { get; set; } = "";

    /// <summary>The data's length.</summary>
    [Key(1)]
    public long Length { get; set; }

    /// <summary>CRC32C of the data.</summary>
    [Key(2)]
    public uint Crc32C { get; set; }

    /// <summary>The upstream chunkserver (URL) that serves <see cref="ChunkRoutes.Pull"/> for the data.</summary>
    [Key(3)]
    public string Source { get; set; } = "";

    /// <summary>Where the data goes after the receiver, in order.</summary>
    [Key(4)]
    public List<string> Chain { get; set; } = [];
}

/// <summary>Asks an upstream chunkserver for buffered data (a download).</summary>
[MessagePackObject]
public sealed class PullRequest
{
    /// <summary>The data id.</summary>
    [Key(0)]
    public string DataId { get; set; } = "";
}

/// <summary>Header of a pull reply; the data follows.</summary>
[MessagePackObject]
public sealed class PullHeader
{
    /// <summary>The data's length.</summary>
    [Key(0)]
    public long Length { get; set; }
}
