using Gfs.Client;
using Gfs.Client.Protocol.Master;

namespace Gfs.Node.Cli.Client;

/// <summary><see cref="IGfsFileSystem"/> over the real client, which it owns.</summary>
internal sealed class GfsClientFileSystem(GfsClient client) : IGfsFileSystem
{
    public Task<EntryAttributes> StatAsync(string path, CancellationToken cancellationToken) => client.StatAsync(path, cancellationToken);

    public IAsyncEnumerable<EntryAttributes> ListAsync(string path, CancellationToken cancellationToken) => client.ListAsync(path, cancellationToken);

    public Task MkdirAsync(string path, bool parents, CancellationToken cancellationToken) => client.MkdirAsync(path, parents, cancellationToken);

    public Task DeleteAsync(string path, bool recursive, CancellationToken cancellationToken) => client.DeleteAsync(path, recursive, cancellationToken);

    public Task RenameAsync(string source, string destination, CancellationToken cancellationToken) => client.RenameAsync(source, destination, cancellationToken);

    public Task SetReplicationAsync(string path, int goal, CancellationToken cancellationToken) => client.SetReplicationAsync(path, goal, cancellationToken);

    public Task<GfsWriteStream> CreateAsync(string path, GfsCreateOptions options, CancellationToken cancellationToken) => client.CreateAsync(path, options, cancellationToken);

    public Task<GfsReadStream> OpenReadAsync(string path, CancellationToken cancellationToken) => client.OpenReadAsync(path, cancellationToken);

    public Task<long> AppendRecordAsync(string path, ReadOnlyMemory<byte> record, CancellationToken cancellationToken) => client.AppendRecordAsync(path, record, cancellationToken);

    public Task<StatusReply> ClusterStatusAsync(CancellationToken cancellationToken) => client.ClusterStatusAsync(cancellationToken);

    public ValueTask DisposeAsync() => client.DisposeAsync();
}
