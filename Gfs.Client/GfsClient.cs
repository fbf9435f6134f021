using System.Runtime.CompilerServices;
using Gfs.Client.Data;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Master;
using Gfs.Client.Transport;

namespace Gfs.Client;

/// <summary>
/// The Gfs client: namespace operations through the master group (leader discovery, retries,
/// exactly-once), and file data directly to and from chunkservers (docs/data-path.md). One instance
/// is meant to be shared: it is safe for concurrent use and pools its connections.
/// </summary>
public sealed class GfsClient : IAsyncDisposable, IDisposable
{
    private readonly RpcClient? rpc;
    private readonly ClientCore core;
    private readonly RecordAppender appender;
    private int disposed;

    /// <summary>Creates a client.</summary>
    public GfsClient(GfsClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        rpc = new RpcClient(options.Transport);
        Master = new MasterClient(options, rpc);
        core = new ClientCore(options, new RpcDataPath(options, rpc, Master), Master.ClientId);
        appender = new RecordAppender(core);
    }

    /// <summary>Creates a client over a given data path (tests: a fake cluster).</summary>
    internal GfsClient(GfsClientOptions options, IDataPath data)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        Master = new MasterClient(options);
        core = new ClientCore(options, data, Master.ClientId);
        appender = new RecordAppender(core);
    }

    /// <summary>The settings this client was created with.</summary>
    public GfsClientOptions Options { get; }

    /// <summary>The master-group client underneath (for status and diagnostics).</summary>
    public MasterClient Master { get; }

    /// <summary>Attributes of a file or directory. NotFound when absent.</summary>
    public Task<EntryAttributes> StatAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Master.StatAsync(path, cancellationToken);
    }

    /// <summary>Every entry of a directory, paging through the master's listing.</summary>
    public async IAsyncEnumerable<EntryAttributes> ListAsync(string path, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        string? after = null;
        while (true)
        {
            var page = await Master.ListAsync(path, after, 0, cancellationToken).ConfigureAwait(false);
            foreach (var entry in page.Entries)
            {
                yield return entry;
            }

            if (!page.More || page.Entries.Count == 0)
            {
                yield break;
            }

            after = page.Entries[^1].Name;
        }
    }

    /// <summary>Creates a directory; with <paramref name="parents"/>, missing parents too and no error when it exists.</summary>
    public Task MkdirAsync(string path, bool parents = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Master.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Mkdir, path, flag: parents), cancellationToken);
    }

    /// <summary>Deletes a file or directory (a non-empty directory only with <paramref name="recursive"/>).</summary>
    public async Task DeleteAsync(string path, bool recursive = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            await Master.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Delete, path, flag: recursive), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Forget(path);
        }
    }

    /// <summary>Renames a file or directory atomically.</summary>
    public async Task RenameAsync(string source, string destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        try
        {
            await Master.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Rename, source, destination), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Forget(source);
            Forget(destination);
        }
    }

    /// <summary>Changes a file's replication goal.</summary>
    public Task SetReplicationAsync(string path, int goal, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (goal < 1)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"replication goal must be at least 1, not {goal}");
        }

        return Master.MutateAsync(NamespaceOp.Of(NamespaceOpKind.SetReplication, path, goal: goal), cancellationToken);
    }

    /// <summary>
    /// Creates a file and opens it for writing. Bytes written are acknowledged (on every replica) in
    /// pieces; <see cref="Stream.FlushAsync(CancellationToken)"/> and dispose wait until everything
    /// written is acknowledged and the file's length is recorded.
    /// </summary>
    public async Task<GfsWriteStream> CreateAsync(string path, GfsCreateOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new GfsCreateOptions();
        if (options.Replication < 1)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"replication goal must be at least 1, not {options.Replication}");
        }

        if (options.ChunkSize < 64 * 1024 || (options.ChunkSize & (options.ChunkSize - 1)) != 0)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"chunk size must be a power of two of at least 64 KiB, not {options.ChunkSize}");
        }

        if (options.CreateParents && ParentOf(path) is { } parent)
        {
            await Master.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Mkdir, parent, flag: true), cancellationToken).ConfigureAwait(false);
        }

        if (options.Overwrite)
        {
            try
            {
                await Master.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Delete, path), cancellationToken).ConfigureAwait(false);
            }
            catch (GfsException e) when (e.Code == ErrorCode.NotFound)
            {
                // Nothing to replace.
            }
        }

        Forget(path);

        // One log entry creates the file and allocates its first chunk; the lease comes back with it.
        var created = await core.Data.CreateFileAsync(path, options.Replication, options.ChunkSize, cancellationToken).ConfigureAwait(false);
        if (created.Lease is { } first)
        {
            core.Leases.Seed(path, created.Id, first);
        }

        return new FileWriter(core, path, created.Id, options.ChunkSize, start: 0);
    }

    /// <summary>Opens an existing file for writing at its end.</summary>
    public async Task<GfsWriteStream> OpenWriteAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        var (attributes, length) = await FileReader.MeasureAsync(core, path, cancellationToken).ConfigureAwait(false);
        return new FileWriter(core, path, attributes.Id, attributes.ChunkSize, length);
    }

    /// <summary>Opens a file for reading: a seekable, read-only stream.</summary>
    public async Task<GfsReadStream> OpenReadAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        return await FileReader.OpenAsync(core, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Appends one record (at most a quarter of the chunk size) exactly once, at an offset the
    /// primary chooses; returns the record's offset in the file. Concurrent appenders to one file
    /// are fine.
    /// </summary>
    public Task<long> AppendRecordAsync(string path, ReadOnlyMemory<byte> record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        return appender.AppendAsync(path, record, cancellationToken);
    }

    /// <summary>The leader's status, including the chunkservers it knows (capacity, free, load).</summary>
    public async Task<StatusReply> ClusterStatusAsync(CancellationToken cancellationToken = default)
    {
        // Any replica answers Status; follow its pointer to the leader, whose view of the chunkservers counts.
        var reply = await Master.CallLeaderAsync<StatusRequest, StatusReply>(MasterRoutes.Status, new StatusRequest(), cancellationToken).ConfigureAwait(false);
        for (var hop = 0; hop < 3 && !reply.IsLeader && reply.LeaderUrl is { } url && Uri.TryCreate(url, UriKind.Absolute, out var leader); hop++)
        {
            reply = await Master.StatusAsync(leader, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        return reply;
    }

    /// <summary>Waits for background length reports (at most <see cref="GfsClientOptions.OperationTimeout"/>), then releases the connections.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        await core.DrainAsync().ConfigureAwait(false);
        core.Stop();
        Master.Dispose();
        rpc?.Dispose();
    }

    /// <inheritdoc />
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private static string? ParentOf(string path)
    {
        var trimmed = path.TrimEnd('/');
        var slash = trimmed.LastIndexOf('/');
        return slash <= 0 ? null : trimmed[..slash];
    }

    private void Forget(string path)
    {
        core.Locations.InvalidateTree(path);
        core.Leases.Invalidate(path);
    }
}
