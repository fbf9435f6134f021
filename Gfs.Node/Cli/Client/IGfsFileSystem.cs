using Gfs.Client;
using Gfs.Client.Protocol.Master;

namespace Gfs.Node.Cli.Client;

/// <summary>
/// The part of <see cref="GfsClient"/> the verbs and the benchmark use, with the same signatures,
/// so that unit tests can run the verbs against an in-memory file system.
/// </summary>
internal interface IGfsFileSystem : IAsyncDisposable
{
    Task<EntryAttributes> StatAsync(string path, CancellationToken cancellationToken);

    IAsyncEnumerable<EntryAttributes> ListAsync(string path, CancellationToken cancellationToken);

    Task MkdirAsync(string path, bool parents, CancellationToken cancellationToken);

    Task DeleteAsync(string path, bool recursive, CancellationToken cancellationToken);

    Task RenameAsync(string source, string destination, CancellationToken cancellationToken);

    Task SetReplicationAsync(string path, int goal, CancellationToken cancellationToken);

    Task<GfsWriteStream> CreateAsync(string path, GfsCreateOptions options, CancellationToken cancellationToken);

    Task<GfsReadStream> OpenReadAsync(string path, CancellationToken cancellationToken);

    Task<long> AppendRecordAsync(string path, ReadOnlyMemory<byte> record, CancellationToken cancellationToken);

    Task<StatusReply> ClusterStatusAsync(CancellationToken cancellationToken);
}
