using System.Collections.Concurrent;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Protocol.Master;

namespace Gfs.Client.Data;

/// <summary>
/// Per path: the file's attributes and the locations of its chunks by index, fetched from the master
/// in pages and trusted for <see cref="GfsClientOptions.LocationCacheTtl"/>. A stale version, a
/// missing chunk or an unreachable replica drops an entry; a lease reply replaces it with the
/// current version. Safe for concurrent use: one small lock per path, none across paths.
/// </summary>
internal sealed class LocationCache(IDataPath data, GfsClientOptions options)
{
    private readonly ConcurrentDictionary<string, FileEntry> files = new(StringComparer.Ordinal);
    private readonly TimeProvider time = options.Time;

    /// <summary>The file's attributes, from the cache when fresh.</summary>
    public async Task<EntryAttributes> GetAttributesAsync(string path, CancellationToken cancellationToken)
    {
        var entry = files.GetOrAdd(path, static _ => new FileEntry());
        lock (entry)
        {
            if (entry.Attributes is { } attributes && Fresh(entry.AttributesAt))
            {
                return attributes;
            }
        }

        await FetchAsync(path, entry, 0, cancellationToken).ConfigureAwait(false);
        lock (entry)
        {
            return entry.Attributes ?? throw new GfsException(ErrorCode.Internal, $"{path}: the master sent no attributes");
        }
    }

    /// <summary>
    /// The location of chunk <paramref name="index"/>, or null when the file has no such chunk (as
    /// the master sees it now).
    /// </summary>
    public async Task<ChunkLocation?> GetChunkAsync(string path, int index, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        var entry = files.GetOrAdd(path, static _ => new FileEntry());
        lock (entry)
        {
            if (entry.Chunks.TryGetValue(index, out var cached) && Fresh(cached.At))
            {
                return cached.Location;
            }
        }

        await FetchAsync(path, entry, index, cancellationToken).ConfigureAwait(false);
        lock (entry)
        {
            return entry.Chunks.TryGetValue(index, out var fetched) ? fetched.Location : null;
        }
    }

    /// <summary>Records the current location of a chunk (from a lease reply, which carries the current version).</summary>
    public void Update(string path, ChunkLocation location)
    {
        var entry = files.GetOrAdd(path, static _ => new FileEntry());
        lock (entry)
        {
            entry.Chunks[location.Index] = new CachedChunk(location, time.GetTimestamp());
            if (entry.Attributes is { } attributes && attributes.Count <= location.Index)
            {
                attributes.Count = location.Index + 1;
            }
        }
    }

    /// <summary>Forgets one chunk's location (stale version, missing chunk, unreachable replica).</summary>
    public void InvalidateChunk(string path, int index)
    {
        if (files.TryGetValue(path, out var entry))
        {
            lock (entry)
            {
                entry.Chunks.Remove(index);
            }
        }
    }

    /// <summary>Forgets everything about <paramref name="path"/>.</summary>
    public void Invalidate(string path) => files.TryRemove(path, out _);

    /// <summary>Forgets <paramref name="path"/> and everything below it (after a delete or rename).</summary>
    public void InvalidateTree(string path)
    {
        var prefix = path.EndsWith('/') ? path : path + "/";
        foreach (var key in files.Keys)
        {
            if (key == path || key.StartsWith(prefix, StringComparison.Ordinal))
            {
                files.TryRemove(key, out _);
            }
        }
    }

    /// <summary>
    /// Forgets files whose attributes and chunk locations are all older than the cache's time to
    /// live (a stale entry would be fetched again anyway), so a long-running client holds what it
    /// used lately, not every path it ever touched. Returns how many were forgotten.
    /// </summary>
    public int Sweep()
    {
        var dropped = 0;
        foreach (var (path, entry) in files)
        {
            bool stale;
            lock (entry)
            {
                stale = (entry.Attributes is null || !Fresh(entry.AttributesAt)) && entry.Chunks.Values.All(c => !Fresh(c.At));
            }

            // A caller holding the entry still gets its answer; it is just not cached any more.
            if (stale && files.TryRemove(new KeyValuePair<string, FileEntry>(path, entry)))
            {
                dropped++;
            }
        }

        return dropped;
    }

    /// <summary>How many files the cache holds.</summary>
    public int Count => files.Count;

    /// <summary>The chunk index appenders to <paramref name="path"/> last used (at least), or -1 when unknown.</summary>
    public int AppendIndex(string path) => files.TryGetValue(path, out var entry) ? Volatile.Read(ref entry.AppendIndex) : -1;

    /// <summary>Raises the append hint of <paramref name="path"/> to <paramref name="index"/>.</summary>
    public void RaiseAppendIndex(string path, int index)
    {
        var entry = files.GetOrAdd(path, static _ => new FileEntry());
        var seen = Volatile.Read(ref entry.AppendIndex);
        while (seen < index)
        {
            var previous = Interlocked.CompareExchange(ref entry.AppendIndex, index, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }

    private bool Fresh(long at) => time.GetElapsedTime(at) < options.LocationCacheTtl;

    private async Task FetchAsync(string path, FileEntry entry, int firstIndex, CancellationToken cancellationToken)
    {
        var reply = await data.GetChunksAsync(path, firstIndex, options.LocationPageSize, cancellationToken).ConfigureAwait(false);
        if (reply.Attributes.Kind == EntryKind.Directory)
        {
            throw new GfsException(ErrorCode.IsADirectory, $"{path} is a directory");
        }

        var now = time.GetTimestamp();
        lock (entry)
        {
            if (entry.Attributes is { } previous && previous.Id != reply.Attributes.Id)
            {
                // Another file at the path now (deleted and created again): nothing cached of the old one applies.
                entry.Chunks.Clear();
                entry.AppendIndex = -1;
            }

            entry.Attributes = reply.Attributes;
            entry.AttributesAt = now;
            foreach (var chunk in reply.Chunks)
            {
                entry.Chunks[chunk.Index] = new CachedChunk(chunk, now);
            }

            // Chunks at or past the file's end as the master now sees it are gone (a shorter file after a re-create).
            if (reply.Chunks.Count < options.LocationPageSize || options.LocationPageSize == 0)
            {
                var end = firstIndex + reply.Chunks.Count;
                foreach (var index in entry.Chunks.Keys.Where(i => i >= end && i >= reply.Attributes.Count).ToList())
                {
                    entry.Chunks.Remove(index);
                }
            }
        }
    }

    private readonly record struct CachedChunk(ChunkLocation Location, long At);

    private sealed class FileEntry
    {
        public readonly Dictionary<int, CachedChunk> Chunks = [];
        public EntryAttributes? Attributes;
        public long AttributesAt;
        public int AppendIndex = -1;
    }
}
