using Gfs.Client.Protocol.Master;

namespace Gfs.Client;

// API SKELETON (issue 5): the signatures the CLI, `gfs bench` and the tests code against.
// The client-library work replaces every body; nothing may ship with a NotImplementedException.

/// <summary>
/// The Gfs client: namespace operations through the master group (leader discovery, retries,
/// exactly-once), and file data directly to and from chunkservers (docs/data-path.md). One instance
/// is meant to be shared: it is safe for concurrent use and pools its connections.
/// </summary>
public sealed class GfsClient : IAsyncDisposable, IDisposable
{
    /// <summary>Creates a client.</summary>
    public GfsClient(GfsClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        Master = new MasterClient(options);
    }

    /// <summary>The settings this client was created with.</summary>
    public GfsClientOptions Options { get; }

    /// <summary>The master-group client underneath (for status and diagnostics).</summary>
    public MasterClient Master { get; }

    /// <summary>Attributes of a file or directory. NotFound when absent.</summary>
    public Task<EntryAttributes> StatAsync(string path, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Every entry of a directory, paging through the master's listing.</summary>
    public IAsyncEnumerable<EntryAttributes> ListAsync(string path, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Creates a directory; with <paramref name="parents"/>, missing parents too and no error when it exists.</summary>
    public Task MkdirAsync(string path, bool parents = false, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Deletes a file or directory (a non-empty directory only with <paramref name="recursive"/>).</summary>
    public Task DeleteAsync(string path, bool recursive = false, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Renames a file or directory atomically.</summary>
    public Task RenameAsync(string source, string destination, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Changes a file's replication goal.</summary>
    public Task SetReplicationAsync(string path, int goal, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>
    /// Creates a file and opens it for writing. Bytes written are acknowledged (on every replica) in
    /// pieces; <see cref="Stream.FlushAsync(CancellationToken)"/> and dispose wait until everything
    /// written is acknowledged and the file's length is recorded.
    /// </summary>
    public Task<GfsWriteStream> CreateAsync(string path, GfsCreateOptions? options = null, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Opens an existing file for writing at its end.</summary>
    public Task<GfsWriteStream> OpenWriteAsync(string path, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Opens a file for reading: a seekable, read-only stream.</summary>
    public Task<GfsReadStream> OpenReadAsync(string path, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>
    /// Appends one record (at most a quarter of the chunk size) exactly once, at an offset the
    /// primary chooses; returns the record's offset in the file. Concurrent appenders to one file
    /// are fine.
    /// </summary>
    public Task<long> AppendRecordAsync(string path, ReadOnlyMemory<byte> record, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>The leader's status, including the chunkservers it knows (capacity, free, load).</summary>
    public Task<StatusReply> ClusterStatusAsync(CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public void Dispose() => Master.Dispose();
}

/// <summary>How a new file is created.</summary>
public sealed record GfsCreateOptions
{
    /// <summary>Replication goal. Default 3.</summary>
    public int Replication { get; init; } = 3;

    /// <summary>Chunk size in bytes, a power of two. Default 64 MiB.</summary>
    public int ChunkSize { get; init; } = 64 << 20;

    /// <summary>Replace an existing file (it is deleted first). Default false: AlreadyExists.</summary>
    public bool Overwrite { get; init; }

    /// <summary>Create missing parent directories. Default false.</summary>
    public bool CreateParents { get; init; }
}

/// <summary>A file open for writing (sequential, at the end).</summary>
public abstract class GfsWriteStream : Stream
{
    /// <summary>The file's path.</summary>
    public abstract string Path { get; }

    /// <summary>Bytes acknowledged by every replica so far (the file's acknowledged end).</summary>
    public abstract long Acknowledged { get; }
}

/// <summary>A file open for reading (seekable).</summary>
public abstract class GfsReadStream : Stream
{
    /// <summary>The file's path.</summary>
    public abstract string Path { get; }
}
