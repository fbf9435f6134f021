using Gfs.Client.Data;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Protocol.Master;

namespace Gfs.Client.Tests.Data;

/// <summary>
/// An in-memory cluster behind the client's data-path seam: a master (files, chunks, versions,
/// leases) and chunkservers (push buffers, replicas, append tables), with a fault hook that lets a
/// test fail any chunkserver call. It follows docs/data-path.md closely enough to check the
/// client's protocol decisions; it is not a model of timing.
/// </summary>
internal sealed partial class FakeCluster : IDataPath
{
    private readonly object gate = new();
    private readonly Dictionary<string, FakeFile> files = [];
    private readonly Dictionary<long, FakeChunk> chunks = [];
    private long nextHandle = 100;
    private long nextFileId = 2;
    private int setLengthEntered;
    private int setLengthCalls;

    public FakeCluster(int servers = 3)
    {
        for (var i = 0; i < servers; i++)
        {
            Servers.Add(new FakeServer($"cs{i}", $"http://cs{i}.test:7000/"));
        }
    }

    public List<FakeServer> Servers { get; } = [];

    /// <summary>Called before every chunkserver operation with (route, server); a returned error is thrown.</summary>
    public Func<string, FakeServer, GfsException?>? Fault { get; set; }

    /// <summary>Servers that refuse an Apply from the primary (they show up in FailedReplicas).</summary>
    public HashSet<string> FailApply { get; } = [];

    public List<(int Index, bool Allocate, string[] Failed)> LeaseCalls { get; } = [];

    public List<(string Path, long Size)> SetLengthCalls { get; } = [];

    public List<ReportReplicaRequest> Reports { get; } = [];

    public List<(long Handle, long Offset, long Length)> Writes { get; } = [];

    public List<(long Handle, long Offset, long Length, string Server)> Reads { get; } = [];

    public List<(long Handle, long Sequence, bool Padded, bool Replayed)> Appends { get; } = [];

    public int GetChunksCalls { get; private set; }

    /// <summary>SetLength calls that started (before <see cref="SetLengthGate"/>).</summary>
    public int SetLengthEntered => Volatile.Read(ref setLengthEntered);

    /// <summary>When set, SetLength waits for it.</summary>
    public TaskCompletionSource? SetLengthGate { get; set; }

    /// <summary>Called with the 1-based number of each SetLength call; a returned error is thrown instead of applying it.</summary>
    public Func<int, GfsException?>? SetLengthFault { get; set; }

    /// <summary>When set, a Write waits for the task it returns before it is applied (a commit held in flight).</summary>
    public Func<WriteRequest, Task>? WriteGate { get; set; }

    /// <summary>
    /// When set, leases run on this clock like the leader's: a lease lasts <see cref="LeaseLength"/>
    /// plus 1 s of grace from its grant, and a new primary is named only after it ended (the leader
    /// waits up to 10 s, and answers Unavailable for a longer wait).
    /// </summary>
    public TimeProvider? Time { get; set; }

    public TimeSpan LeaseLength { get; set; } = TimeSpan.FromSeconds(60);

    public void CreateFile(string path, int chunkSize, int goal = 3)
    {
        lock (gate)
        {
            files[path] = new FakeFile(nextFileId++, chunkSize, goal);
        }
    }

    /// <summary>The inode id of the file at <paramref name="path"/>.</summary>
    public long Id(string path)
    {
        lock (gate)
        {
            return files[path].Id;
        }
    }

    /// <summary>Deletes the file at <paramref name="path"/> and creates another there (a create with overwrite); the old file's chunks stay, as in the trash.</summary>
    public void Replace(string path)
    {
        lock (gate)
        {
            var old = files[path];
            files[path] = new FakeFile(nextFileId++, old.ChunkSize, old.Goal);
        }
    }

    public long Size(string path)
    {
        lock (gate)
        {
            return files[path].Size;
        }
    }

    public FakeChunk Chunk(string path, int index)
    {
        lock (gate)
        {
            return files[path].Chunks[index];
        }
    }

    public int ChunkCount(string path)
    {
        lock (gate)
        {
            return files[path].Chunks.Count;
        }
    }

    /// <summary>The bytes of chunk <paramref name="index"/> on <paramref name="server"/>.</summary>
    public byte[] Content(string path, int index, FakeServer server)
    {
        lock (gate)
        {
            var replica = server.Replicas[files[path].Chunks[index].Handle];
            return replica.Data.AsSpan(0, (int)replica.Length).ToArray();
        }
    }

    public Task<GetChunksReply> GetChunksAsync(string path, int firstIndex, int count, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            GetChunksCalls++;
            var file = File(path);
            var reply = new GetChunksReply
            {
                Attributes = new EntryAttributes { Name = path, Id = file.Id, Kind = EntryKind.File, Size = file.Size, ChunkSize = file.ChunkSize, Count = file.Chunks.Count, Goal = file.Goal },
            };
            for (var i = firstIndex; i < file.Chunks.Count && (count == 0 || i < firstIndex + count); i++)
            {
                reply.Chunks.Add(Location(file.Chunks[i]));
            }

            return Task.FromResult(reply);
        }
    }

    /// <summary>Writes whose bytes came inline in the request (no push).</summary>
    public int InlineWrites { get; private set; }

    public List<string> CreateCalls { get; } = [];

    public async Task<CreateLeasedReply> CreateFileAsync(string path, int goal, int chunkSize, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            CreateCalls.Add(path);
            if (files.ContainsKey(path))
            {
                throw new GfsException(ErrorCode.AlreadyExists, $"{path} exists");
            }

            CreateFile(path, chunkSize, goal);
        }

        // Like the leader: the first chunk is allocated with the file and its lease returned.
        var id = Id(path);
        return new CreateLeasedReply { Id = id, Lease = await LeaseChunkAsync(path, id, 0, allocate: true, [], cancellationToken) };
    }

    private static byte[] Inline(ReadOnlyMemory<byte> data, long length, uint crc)
    {
        if (data.Length != length || data.Length > ChunkRoutes.MaxInlineBytes || ClientCore.Crc32C(data.Span) != crc)
        {
            throw new GfsException(ErrorCode.InvalidArgument, "inline data does not match its length or CRC");
        }

        return data.ToArray();
    }

    public Task ReportReplicaAsync(ReportReplicaRequest report, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            Reports.Add(report);
        }

        return Task.CompletedTask;
    }

    public async Task SetLengthAsync(string path, long fileId, long size, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref setLengthEntered);
        if (SetLengthGate is { } g)
        {
            await g.Task;
        }

        lock (gate)
        {
            setLengthCalls++;
            if (SetLengthFault?.Invoke(setLengthCalls) is { } error)
            {
                throw error;
            }

            var file = File(path);
            if (fileId != 0 && file.Id != fileId)
            {
                throw new GfsException(ErrorCode.FileReplaced, $"{path} is not file {fileId}");
            }

            SetLengthCalls.Add((path, size));
            file.Size = Math.Max(file.Size, size);
        }
    }

    /// <summary>Every push the client sent: to which server, with how long a chain.</summary>
    public System.Collections.Concurrent.ConcurrentBag<(string Server, int Chain)> PushTargets { get; } = [];

    public Task<PushReply> PushAsync(Uri node, PushHeader header, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var first = Server(node);
        PushTargets.Add((first.Id, header.Chain.Count));
        Check(ChunkRoutes.Push, first);
        if (ClientCore.Crc32C(data.Span) != header.Crc32C || data.Length != header.Length)
        {
            throw new GfsException(ErrorCode.ChecksumMismatch, "pushed data does not match its CRC");
        }

        var copy = data.ToArray();
        var reply = new PushReply();
        first.Buffer[header.DataId] = copy;
        reply.Buffered.Add(first.Url);
        foreach (var url in header.Chain)
        {
            var next = Server(new Uri(url));
            if (Fault?.Invoke(ChunkRoutes.Push, next) is { } error)
            {
                (error.Code == ErrorCode.Busy ? reply.Busy : reply.Failed).Add(url);
                continue;
            }

            next.Buffer[header.DataId] = copy;
            reply.Buffered.Add(url);
        }

        return Task.FromResult(reply);
    }

    public async Task<WriteReply> WriteAsync(Uri primary, WriteRequest request, CancellationToken cancellationToken)
    {
        if (WriteGate is { } hold)
        {
            await hold(request);
        }

        var server = Server(primary);
        Check(ChunkRoutes.Write, server);
        lock (gate)
        {
            var chunk = CheckPrimary(server, request.Handle, request.Version);
            var own = server.Replicas[request.Handle];
            if (request.Offset > own.Length || request.Offset + request.Length > chunk.ChunkSize)
            {
                throw new GfsException(ErrorCode.InvalidArgument, $"write at {request.Offset} of a chunk of {own.Length}");
            }

            var inline = request.DataId.Length == 0;
            var data = inline ? Inline(request.Data, request.Length, request.Crc32C) : server.Buffer.TryGetValue(request.DataId, out var d) ? d : throw new GfsException(ErrorCode.NotFound, "no such data id");
            Writes.Add((request.Handle, request.Offset, request.Length));
            if (inline)
            {
                InlineWrites++;
            }

            var reply = new WriteReply();
            foreach (var replica in chunk.Replicas)
            {
                if (replica != server && (FailApply.Contains(replica.Id) || (!inline && !replica.Buffer.ContainsKey(request.DataId))))
                {
                    reply.FailedReplicas.Add(replica.Id);
                    continue;
                }

                var r = replica.Replicas[request.Handle];
                data.CopyTo(r.Data, (int)request.Offset);
                r.Length = Math.Max(r.Length, request.Offset + data.Length);
            }

            reply.ChunkLength = own.Length;
            return reply;
        }
    }

    public Task<AppendReply> AppendAsync(Uri primary, AppendRequest request, CancellationToken cancellationToken)
    {
        var server = Server(primary);
        Check(ChunkRoutes.Append, server);
        lock (gate)
        {
            var chunk = CheckPrimary(server, request.Handle, request.Version);
            var own = server.Replicas[request.Handle];
            var reply = new AppendReply();
            if (own.Table.TryGetValue((request.ClientId, request.Sequence), out var seen))
            {
                reply.Offset = seen;
                reply.Replayed = true;
            }
            else if (own.Length + request.Length > chunk.ChunkSize)
            {
                reply.Offset = -1;
                reply.Padded = true;
                foreach (var replica in chunk.Replicas)
                {
                    var r = replica.Replicas[request.Handle];
                    Array.Clear(r.Data, (int)r.Length, (int)(chunk.ChunkSize - r.Length));
                    r.Length = chunk.ChunkSize;
                }
            }
            else
            {
                var data = request.DataId.Length == 0 ? Inline(request.Data, request.Length, request.Crc32C) : server.Buffer[request.DataId];
                reply.Offset = own.Length;
                foreach (var replica in chunk.Replicas)
                {
                    if (replica != server && FailApply.Contains(replica.Id))
                    {
                        reply.FailedReplicas.Add(replica.Id);
                        continue;
                    }

                    var r = replica.Replicas[request.Handle];
                    data.CopyTo(r.Data, (int)reply.Offset);
                    r.Length = reply.Offset + data.Length;
                    r.Table[(request.ClientId, request.Sequence)] = reply.Offset;
                }
            }

            Appends.Add((request.Handle, request.Sequence, reply.Padded, reply.Replayed));
            reply.ChunkLength = own.Length;
            return Task.FromResult(reply);
        }
    }

    public Task<ChunkInfoReply> InfoAsync(Uri node, long handle, CancellationToken cancellationToken)
    {
        var server = Server(node);
        Check(ChunkRoutes.Info, server);
        lock (gate)
        {
            var r = server.Replicas.TryGetValue(handle, out var x) ? x : throw new GfsException(ErrorCode.NotFound, "no such chunk");
            return Task.FromResult(new ChunkInfoReply { Version = r.Version, Length = r.Length });
        }
    }

    public Task<int> ReadAsync(Uri node, ReadRequest request, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var server = Server(node);
        Check(ChunkRoutes.Read, server);
        lock (gate)
        {
            Reads.Add((request.Handle, request.Offset, request.Length, server.Id));
            var r = server.Replicas.TryGetValue(request.Handle, out var x) ? x : throw new GfsException(ErrorCode.NotFound, "no such chunk");
            if (r.Version != request.Version)
            {
                throw new GfsException(ErrorCode.StaleVersion, $"replica at {r.Version}, asked {request.Version}");
            }

            if (r.Corrupt)
            {
                throw new GfsException(ErrorCode.ChecksumMismatch, "block checksum mismatch");
            }

            var n = (int)Math.Max(0, Math.Min(request.Length, r.Length - request.Offset));
            r.Data.AsSpan((int)request.Offset, n).CopyTo(destination.Span);
            return Task.FromResult(n);
        }
    }

    private static ChunkLocation Location(FakeChunk c) => new()
    {
        Index = c.Index,
        Handle = c.Handle,
        Version = c.Version,
        Length = c.Replicas.Count == 0 ? 0 : c.Replicas.Max(s => s.Replicas[c.Handle].Length),
        Replicas = [.. c.Replicas.Select(s => new ReplicaLocation { ServerId = s.Id, Url = s.Url })],
    };

    private FakeChunk CheckPrimary(FakeServer server, long handle, long version)
    {
        var chunk = chunks[handle];
        var own = server.Replicas.TryGetValue(handle, out var r) ? r : throw new GfsException(ErrorCode.NotFound, "no such chunk");
        if (own.Version != version)
        {
            throw new GfsException(ErrorCode.StaleVersion, $"replica at {own.Version}, asked {version}");
        }

        if (chunk.Primary != server)
        {
            throw new GfsException(ErrorCode.LeaseExpired, "not the primary");
        }

        return chunk;
    }

    private void Check(string route, FakeServer server)
    {
        if (Fault?.Invoke(route, server) is { } error)
        {
            throw error;
        }
    }

    private FakeFile File(string path) => files.TryGetValue(path, out var f) ? f : throw new GfsException(ErrorCode.NotFound, $"{path} does not exist");

    private FakeServer Server(Uri url) => Servers.Single(s => new Uri(s.Url) == url);

    private sealed class FakeFile(long id, int chunkSize, int goal)
    {
        public long Id { get; } = id;

        public int ChunkSize { get; } = chunkSize;

        public int Goal { get; } = goal;

        public long Size { get; set; }

        public List<FakeChunk> Chunks { get; } = [];
    }
}
