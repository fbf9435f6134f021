using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Gfs.Client;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Protocol.Master;
using Gfs.Node.Cli.Client;

namespace Gfs.Node.Tests.Cli;

/// <summary>An in-memory namespace with GfsClient's semantics as the verbs rely on them (unit tests only).</summary>
internal sealed class FakeFileSystem : IGfsFileSystem
{
    private readonly ConcurrentDictionary<string, Node> nodes = new(StringComparer.Ordinal) { ["/"] = new Node(EntryKind.Directory) };

    public List<ChunkserverStatus> Chunkservers { get; } = [];

    public ConcurrentQueue<int> AppendedLengths { get; } = new();

    public bool Disposed { get; private set; }

    public byte[] Content(string path) => nodes[path].Data.ToArray();

    public bool Exists(string path) => nodes.ContainsKey(path);

    public int Goal(string path) => nodes[path].Goal;

    public void AddFile(string path, byte[] data, int goal = 3, int chunkSize = 64 << 20)
    {
        nodes[path] = new Node(EntryKind.File) { Goal = goal, ChunkSize = chunkSize };
        nodes[path].Data.Write(data);
    }

    public void AddDirectory(string path) => nodes[path] = new Node(EntryKind.Directory);

    public Task<EntryAttributes> StatAsync(string path, CancellationToken cancellationToken)
        => Task.FromResult(Attributes(path, Get(path)));

    public async IAsyncEnumerable<EntryAttributes> ListAsync(string path, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var directory = Get(path);
        if (directory.Kind != EntryKind.Directory)
        {
            throw new GfsException(ErrorCode.NotADirectory, "not a directory");
        }

        await Task.Yield();
        foreach (var child in Children(path).Order(StringComparer.Ordinal))
        {
            yield return Attributes(child, nodes[child]);
        }
    }

    public Task MkdirAsync(string path, bool parents, CancellationToken cancellationToken)
    {
        if (nodes.TryGetValue(path, out var existing))
        {
            return parents && existing.Kind == EntryKind.Directory ? Task.CompletedTask : throw new GfsException(ErrorCode.AlreadyExists, "already exists");
        }

        var parent = Parent(path);
        if (!nodes.ContainsKey(parent))
        {
            if (!parents)
            {
                throw new GfsException(ErrorCode.NotFound, "parent does not exist");
            }

            MkdirAsync(parent, true, cancellationToken);
        }

        nodes[path] = new Node(EntryKind.Directory);
        return Task.CompletedTask;
    }

    public Task DeleteAsync(string path, bool recursive, CancellationToken cancellationToken)
    {
        var node = Get(path);
        var children = node.Kind == EntryKind.Directory ? nodes.Keys.Where(k => k.StartsWith(path.TrimEnd('/') + "/", StringComparison.Ordinal)).ToList() : [];
        if (children.Count > 0 && !recursive)
        {
            throw new GfsException(ErrorCode.DirectoryNotEmpty, "directory not empty");
        }

        children.ForEach(c => nodes.TryRemove(c, out _));
        nodes.TryRemove(path, out _);
        return Task.CompletedTask;
    }

    public Task RenameAsync(string source, string destination, CancellationToken cancellationToken)
    {
        var node = Get(source);
        if (nodes.ContainsKey(destination))
        {
            throw new GfsException(ErrorCode.AlreadyExists, "destination exists");
        }

        nodes.TryRemove(source, out _);
        nodes[destination] = node;
        return Task.CompletedTask;
    }

    public Task SetReplicationAsync(string path, int goal, CancellationToken cancellationToken)
    {
        Get(path).Goal = goal;
        return Task.CompletedTask;
    }

    public Task<GfsWriteStream> CreateAsync(string path, GfsCreateOptions options, CancellationToken cancellationToken)
    {
        if (nodes.ContainsKey(path) && !options.Overwrite)
        {
            throw new GfsException(ErrorCode.AlreadyExists, "already exists");
        }

        if (!nodes.ContainsKey(Parent(path)))
        {
            if (!options.CreateParents)
            {
                throw new GfsException(ErrorCode.NotFound, "parent does not exist");
            }

            MkdirAsync(Parent(path), true, cancellationToken);
        }

        var node = new Node(EntryKind.File) { Goal = options.Replication, ChunkSize = options.ChunkSize };
        nodes[path] = node;
        return Task.FromResult<GfsWriteStream>(new WriteStream(path, node));
    }

    public Task<GfsReadStream> OpenReadAsync(string path, CancellationToken cancellationToken)
    {
        var node = Get(path);
        return node.Kind == EntryKind.File
            ? Task.FromResult<GfsReadStream>(new ReadStream(path, node.Data.ToArray()))
            : throw new GfsException(ErrorCode.IsADirectory, "is a directory");
    }

    public Task<long> AppendRecordAsync(string path, ReadOnlyMemory<byte> record, CancellationToken cancellationToken)
    {
        var node = Get(path);
        AppendedLengths.Enqueue(record.Length);
        lock (node)
        {
            var offset = node.Data.Length;
            node.Data.Write(record.Span);
            return Task.FromResult(offset);
        }
    }

    public Task<StatusReply> ClusterStatusAsync(CancellationToken cancellationToken)
        => Task.FromResult(new StatusReply { IsLeader = true, Chunkservers = Chunkservers });

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }

    private static string Parent(string path)
    {
        var index = path.TrimEnd('/').LastIndexOf('/');
        return index <= 0 ? "/" : path[..index];
    }

    private IEnumerable<string> Children(string directory)
        => nodes.Keys.Where(k => k != "/" && k != directory && Parent(k) == directory.TrimEnd('/') + (directory == "/" ? "/" : ""));

    private Node Get(string path)
        => nodes.TryGetValue(path.Length > 1 ? path.TrimEnd('/') : path, out var node) ? node : throw new GfsException(ErrorCode.NotFound, "no such file or directory");

    private EntryAttributes Attributes(string path, Node node) => new()
    {
        Name = path == "/" ? "" : path[(path.LastIndexOf('/') + 1)..],
        Kind = node.Kind,
        Size = node.Kind == EntryKind.File ? node.Data.Length : 0,
        ModifiedUnixMs = 1_700_000_000_000,
        Goal = node.Kind == EntryKind.File ? node.Goal : 0,
        ChunkSize = node.Kind == EntryKind.File ? node.ChunkSize : 0,
        Count = node.Kind == EntryKind.File ? (int)((node.Data.Length + node.ChunkSize - 1) / node.ChunkSize) : Children(path).Count(),
    };

    private sealed class Node(EntryKind kind)
    {
        public EntryKind Kind { get; } = kind;

        public MemoryStream Data { get; } = new();

        public int Goal { get; set; }

        public int ChunkSize { get; set; }
    }

    private sealed class WriteStream(string path, Node node) : GfsWriteStream
    {
        public override string Path => path;

        public override long Acknowledged => node.Data.Length;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => node.Data.Length;

        public override long Position { get => node.Data.Length; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => node.Data.Write(buffer, offset, count);
    }

    private sealed class ReadStream(string path, byte[] data) : GfsReadStream
    {
        private readonly MemoryStream inner = new(data, writable: false);

        public override string Path => path;

        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => inner.Length;

        public override long Position { get => inner.Position; set => inner.Position = value; }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
