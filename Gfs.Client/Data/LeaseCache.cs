using System.Collections.Concurrent;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;

namespace Gfs.Client.Data;

/// <summary>A lease as the client uses it: the chunk, its version, the primary and the push order.</summary>
internal sealed class ChunkLease
{
    public ChunkLease(string path, LeaseChunkReply reply, long obtainedAt)
    {
        Path = path;
        Reply = reply;
        ObtainedAt = obtainedAt;
        if (reply.Chunk.Replicas.Count == 0)
        {
            throw new GfsException(ErrorCode.Unavailable, $"{path} chunk {reply.Chunk.Index}: the lease names no replica");
        }

        Primary = reply.Chunk.Replicas.Find(r => r.ServerId == reply.PrimaryId)
            ?? throw new GfsException(ErrorCode.Internal, $"{path} chunk {reply.Chunk.Index}: the primary {reply.PrimaryId} is not among the replicas");
        PrimaryUri = new Uri(Primary.Url);
    }

    public string Path { get; }

    public LeaseChunkReply Reply { get; }

    public ChunkLocation Chunk => Reply.Chunk;

    public long Handle => Reply.Chunk.Handle;

    public long Version => Reply.Chunk.Version;

    public ReplicaLocation Primary { get; }

    public Uri PrimaryUri { get; }

    public long ObtainedAt { get; }

    /// <summary>When a mutation under this lease was last acknowledged (0: never); the primary's lease is extended while mutations flow.</summary>
    public long LastUsedAt => Volatile.Read(ref lastUsedAt);

    private long lastUsedAt;

    /// <summary>Records an acknowledged mutation at <paramref name="timestamp"/>.</summary>
    public void MarkUsed(long timestamp)
    {
        var seen = Volatile.Read(ref lastUsedAt);
        while (seen < timestamp)
        {
            var previous = Interlocked.CompareExchange(ref lastUsedAt, timestamp, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }

    /// <summary>The replica data is pushed to first (the nearest).</summary>
    public ReplicaLocation First => Reply.Chunk.Replicas[0];

    /// <summary>Server ids of the replicas whose URL is in <paramref name="urls"/>; an unknown URL blames every replica after the first.</summary>
    public List<string> ServersAt(IEnumerable<string> urls)
    {
        var result = new List<string>();
        foreach (var url in urls)
        {
            var replica = Reply.Chunk.Replicas.Find(r => SameUrl(r.Url, url));
            if (replica is not null)
            {
                result.Add(replica.ServerId);
            }
            else
            {
                result.AddRange(Reply.Chunk.Replicas.Skip(1).Select(r => r.ServerId));
            }
        }

        return [.. result.Distinct(StringComparer.Ordinal)];
    }

    private static bool SameUrl(string a, string b) => string.Equals(a.TrimEnd('/'), b.TrimEnd('/'), StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// Leases by (path, file id, chunk index), shared by every writer and appender of the client. A
/// lease is reused until it is near the end the master gave it or a mutation under it failed;
/// concurrent requests for the same chunk share one master call. The file id (the inode id the
/// writer opened) keeps a lease on a deleted file's chunk from being handed to a writer of the file
/// that replaced it at the same path.
/// </summary>
internal sealed class LeaseCache(IDataPath data, LocationCache locations, GfsClientOptions options)
{
    private readonly ConcurrentDictionary<(string Path, long FileId, int Index), Task<ChunkLease>> leases = new();
    private readonly TimeProvider time = options.Time;

    /// <summary>A usable lease on the chunk: the cached one, or a new one from the leader.</summary>
    public Task<ChunkLease> GetAsync(string path, long fileId, int index, bool allocate, CancellationToken cancellationToken)
    {
        var key = (path, fileId, index);
        while (true)
        {
            if (leases.TryGetValue(key, out var existing))
            {
                if (!existing.IsCompleted || (existing.IsCompletedSuccessfully && Usable(existing.Result)))
                {
                    return existing.WaitAsync(cancellationToken);
                }

                var fresh = RequestAsync(path, fileId, index, allocate, []);
                if (leases.TryUpdate(key, fresh, existing))
                {
                    return fresh.WaitAsync(cancellationToken);
                }

                continue;
            }

            var requested = RequestAsync(path, fileId, index, allocate, []);
            if (leases.TryAdd(key, requested))
            {
                return requested.WaitAsync(cancellationToken);
            }
        }
    }

    /// <summary>
    /// A new lease after <paramref name="stale"/> failed. Without <paramref name="failed"/> servers,
    /// a lease someone else already took after <paramref name="stale"/> is shared; with them the
    /// leader is always asked, so it can leave them out.
    /// </summary>
    public Task<ChunkLease> RenewAsync(string path, long fileId, int index, bool allocate, ChunkLease? stale, IReadOnlyCollection<string> failed, CancellationToken cancellationToken)
    {
        var key = (path, fileId, index);
        if (failed.Count == 0 && leases.TryGetValue(key, out var current)
            && (!current.IsCompleted || (current.IsCompletedSuccessfully && !ReferenceEquals(current.Result, stale) && Usable(current.Result))))
        {
            return current.WaitAsync(cancellationToken);
        }

        var fresh = RequestAsync(path, fileId, index, allocate, failed);
        leases[key] = fresh;
        return fresh.WaitAsync(cancellationToken);
    }

    /// <summary>Caches a lease that came with another reply (a create that allocated the file's first chunk).</summary>
    public void Seed(string path, long fileId, LeaseChunkReply reply)
    {
        var lease = new ChunkLease(path, reply, time.GetTimestamp());
        locations.Update(path, reply.Chunk);
        leases[(path, fileId, reply.Chunk.Index)] = Task.FromResult(lease);
    }

    /// <summary>Forgets leases that failed or are no longer usable. Returns how many were forgotten.</summary>
    public int Sweep()
    {
        var dropped = 0;
        foreach (var entry in leases)
        {
            var task = entry.Value;
            if (task.IsCompleted && (!task.IsCompletedSuccessfully || !Usable(task.Result)) && leases.TryRemove(entry))
            {
                dropped++;
            }
        }

        return dropped;
    }

    /// <summary>How many chunk leases the cache holds.</summary>
    public int Count => leases.Count;

    /// <summary>The lease currently cached for the chunk, if it is ready.</summary>
    public ChunkLease? Peek(string path, long fileId, int index)
        => leases.TryGetValue((path, fileId, index), out var task) && task.IsCompletedSuccessfully ? task.Result : null;

    /// <summary>Forgets every lease of <paramref name="path"/>.</summary>
    public void Invalidate(string path)
    {
        foreach (var key in leases.Keys)
        {
            if (key.Path == path || key.Path.StartsWith(path.TrimEnd('/') + "/", StringComparison.Ordinal))
            {
                leases.TryRemove(key, out _);
            }
        }
    }

    /// <summary>Whether a lease has enough time left to start a mutation under it.</summary>
    internal bool Usable(ChunkLease lease)
    {
        var remaining = TimeSpan.FromMilliseconds(lease.Reply.LeaseRemainingMs);
        var trusted = remaining - options.LeaseRenewMargin;
        if (trusted < remaining / 2)
        {
            trusted = remaining / 2;
        }

        return time.GetElapsedTime(lease.ObtainedAt) < trusted;
    }

    /// <summary>
    /// Asks the leader. The call is shared by every caller that waits for this chunk, so it does not
    /// take any one caller's token (each waits with its own); it is bounded by the master client's
    /// operation timeout. A failed request is replaced by the next caller.
    /// </summary>
    private async Task<ChunkLease> RequestAsync(string path, long fileId, int index, bool allocate, IReadOnlyCollection<string> failed)
    {
        var reply = await data.LeaseChunkAsync(path, fileId, index, allocate, failed, CancellationToken.None).ConfigureAwait(false);
        var lease = new ChunkLease(path, reply, time.GetTimestamp());
        locations.Update(path, reply.Chunk);
        return lease;
    }
}
