namespace Gfs.Client.Protocol.Chunk;

/// <summary>
/// Routes of the chunkserver's RPCs, below <c>/rpc/</c>, and the master routes of the data path.
/// The data path is described in docs/data-path.md.
/// </summary>
public static class ChunkRoutes
{
    /// <summary>Master → chunkserver: create a chunk or raise its version, and hand out (or take back) a lease.</summary>
    public const string Grant = "chunk/Grant";

    /// <summary>Client or upstream chunkserver → chunkserver: pushed data (upload), forwarded down the chain while it arrives.</summary>
    public const string Push = "chunk/Push";

    /// <summary>
    /// Chunkserver → next chunkserver in a push chain: fetch data id from <c>Source</c> (a download
    /// of <see cref="Pull"/>, read while the source still receives it) and pass it on down the chain.
    /// </summary>
    public const string Fetch = "chunk/Fetch";

    /// <summary>Chunkserver → upstream chunkserver: download buffered data, streamed while it is still arriving.</summary>
    public const string Pull = "chunk/Pull";

    /// <summary>Client → primary: apply pushed data at an offset, in the primary's serial order, on every replica.</summary>
    public const string Write = "chunk/Write";

    /// <summary>Client → primary: record append; the primary picks the offset.</summary>
    public const string Append = "chunk/Append";

    /// <summary>Primary → secondary: apply one mutation in the primary's serial order.</summary>
    public const string Apply = "chunk/Apply";

    /// <summary>Client → any replica: checksum-verified read (download).</summary>
    public const string Read = "chunk/Read";

    /// <summary>Client → any replica: a chunk's version and length.</summary>
    public const string Info = "chunk/Info";

    /// <summary>Anyone → chunkserver: identity, capacity and counters.</summary>
    public const string Status = "chunk/Status";

    /// <summary>
    /// Largest write or record carried inline in <c>chunk/Write</c>, <c>chunk/Append</c> and
    /// <c>chunk/Apply</c> instead of pushed first: below it a push round trip costs more than the bytes.
    /// </summary>
    public const int MaxInlineBytes = 256 * 1024;

    /// <summary>Chunkserver → every master: registration, load, chunk reports, held leases.</summary>
    public const string Heartbeat = "master/Heartbeat";

    /// <summary>Client → master: a file's attributes and the locations of a range of its chunks.</summary>
    public const string GetChunks = "master/GetChunks";

    /// <summary>Client → leader: allocate a file's next chunk and/or get the chunk's primary and lease.</summary>
    public const string LeaseChunk = "master/LeaseChunk";

    /// <summary>
    /// Client → leader: create a file (exactly once, like <c>master/CreateFile</c>) and, in the same log
    /// entry, allocate its first chunk; the reply carries that chunk's lease.
    /// </summary>
    public const string CreateLeased = "master/CreateLeased";

    /// <summary>Client → master: a replica failed a read or a mutation (checksum mismatch, unreachable, refused).</summary>
    public const string ReportReplica = "master/ReportReplica";
}
