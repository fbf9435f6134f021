using Gfs.Client.Protocol.Chunk;

namespace Gfs.Client.Data;

/// <summary>
/// Every remote call the data path makes, behind one seam so the write, read and append logic can
/// be tested against a fake cluster. <see cref="RpcDataPath"/> is the real one.
/// </summary>
internal interface IDataPath
{
    /// <summary>A file's attributes and the locations of chunks [firstIndex, firstIndex + count).</summary>
    Task<GetChunksReply> GetChunksAsync(string path, int firstIndex, int count, CancellationToken cancellationToken);

    /// <summary>
    /// Leases chunk <paramref name="index"/> (allocating it when asked), leaving out <paramref name="failed"/>
    /// servers; refused with FileReplaced when the path no longer names file <paramref name="fileId"/> (0: not checked).
    /// </summary>
    Task<LeaseChunkReply> LeaseChunkAsync(string path, long fileId, int index, bool allocate, IReadOnlyCollection<string> failed, CancellationToken cancellationToken);

    /// <summary>Creates a file exactly once; returns its inode id and the lease on its first chunk when the master could allocate one at once.</summary>
    Task<CreateLeasedReply> CreateFileAsync(string path, int goal, int chunkSize, CancellationToken cancellationToken);

    /// <summary>Tells the master a replica failed the client.</summary>
    Task ReportReplicaAsync(ReportReplicaRequest report, CancellationToken cancellationToken);

    /// <summary>Raises the file's recorded length to <paramref name="size"/>; refused with FileReplaced when the path no longer names file <paramref name="fileId"/> (0: not checked).</summary>
    Task SetLengthAsync(string path, long fileId, long size, CancellationToken cancellationToken);

    /// <summary>Pushes data to <paramref name="node"/>, which forwards it along the header's chain.</summary>
    Task<PushReply> PushAsync(Uri node, PushHeader header, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Asks the primary to write pushed data.</summary>
    Task<WriteReply> WriteAsync(Uri primary, WriteRequest request, CancellationToken cancellationToken);

    /// <summary>Asks the primary to record-append pushed data.</summary>
    Task<AppendReply> AppendAsync(Uri primary, AppendRequest request, CancellationToken cancellationToken);

    /// <summary>A replica's version and length.</summary>
    Task<ChunkInfoReply> InfoAsync(Uri node, long handle, CancellationToken cancellationToken);

    /// <summary>
    /// Downloads [offset, offset + length) of a chunk into <paramref name="destination"/>; returns the
    /// bytes received (fewer at the replica's end). Throws a typed error if the data stops early.
    /// </summary>
    Task<int> ReadAsync(Uri node, ReadRequest request, Memory<byte> destination, CancellationToken cancellationToken);
}
