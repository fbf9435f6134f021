using System.Text;
using Gfs.Client.Protocol;
using Gfs.Master.Paths;

namespace Gfs.Master.State;

public sealed partial class MasterState
{
    private EntryInfo Info(int id)
    {
        ref readonly var n = ref inodes[id];
        var file = n.Kind == InodeKind.File;
        return new EntryInfo(
            Encoding.UTF8.GetString(NameOf(n)),
            id,
            n.Kind,
            n.Size,
            n.MTime,
            file ? n.Goal : 0,
            file ? 1 << n.ChunkSizeLog2 : 0,
            n.Count);
    }

    /// <summary>Attributes of the entry at <paramref name="path"/> (UTF-8).</summary>
    public ErrorCode Stat(ReadOnlySpan<byte> path, out EntryInfo info)
    {
        info = default;
        if (PathValidator.Validate(path, out _) is var invalid and not ErrorCode.Ok)
        {
            return invalid;
        }

        var id = Resolve(path, out var code);
        if (id != None)
        {
            info = Info(id);
        }

        return code;
    }

    public ErrorCode Stat(string path, out EntryInfo info)
    {
        info = default;
        return PathValidator.TryEncode(path, out var utf8, out _) is var code and not ErrorCode.Ok ? code : Stat(utf8, out info);
    }

    /// <summary>
    /// The children of the directory at <paramref name="path"/>, sorted by name (UTF-8 byte order),
    /// starting after <paramref name="startAfter"/> when given, at most <paramref name="limit"/> of them.
    /// </summary>
    public ErrorCode List(ReadOnlySpan<byte> path, out List<EntryInfo> entries, ReadOnlySpan<byte> startAfter = default, int limit = int.MaxValue)
    {
        entries = [];
        if (PathValidator.Validate(path, out _) is var invalid and not ErrorCode.Ok)
        {
            return invalid;
        }

        var id = Resolve(path, out var code);
        if (id == None)
        {
            return code;
        }

        if (inodes[id].Kind != InodeKind.Directory)
        {
            return ErrorCode.NotADirectory;
        }

        var children = new List<int>(inodes[id].Count);
        for (var c = inodes[id].FirstChild; c != None; c = inodes[c].NextSibling)
        {
            if (startAfter.IsEmpty || NameOf(inodes[c]).SequenceCompareTo(startAfter) > 0)
            {
                children.Add(c);
            }
        }

        children.Sort((a, b) => NameOf(inodes[a]).SequenceCompareTo(NameOf(inodes[b])));
        var take = Math.Min(limit, children.Count);
        entries.Capacity = take;
        for (var i = 0; i < take; i++)
        {
            entries.Add(Info(children[i]));
        }

        return ErrorCode.Ok;
    }

    public ErrorCode List(string path, out List<EntryInfo> entries)
    {
        entries = [];
        return PathValidator.TryEncode(path, out var utf8, out _) is var code and not ErrorCode.Ok ? code : List(utf8, out entries);
    }

    /// <summary>The chunk handles of the file at <paramref name="path"/>, in order.</summary>
    public ErrorCode GetChunks(ReadOnlySpan<byte> path, out long[] handles)
    {
        handles = [];
        if (PathValidator.Validate(path, out _) is var invalid and not ErrorCode.Ok)
        {
            return invalid;
        }

        if (ResolveFile(path, out var id) is var code and not ErrorCode.Ok)
        {
            return code;
        }

        var n = inodes[id];

        handles = n.Count switch
        {
            0 => [],
            1 => [n.Chunk0],
            _ => (long[])chunkLists[id].Clone(),
        };
        return ErrorCode.Ok;
    }

    public ErrorCode GetChunks(string path, out long[] handles)
    {
        handles = [];
        return PathValidator.TryEncode(path, out var utf8, out _) is var code and not ErrorCode.Ok ? code : GetChunks(utf8, out handles);
    }

    /// <summary>
    /// The attributes of the file at <paramref name="path"/> and its chunks from index
    /// <paramref name="first"/>, at most <paramref name="count"/> of them, with their versions.
    /// </summary>
    public ErrorCode FileChunks(ReadOnlySpan<byte> path, int first, int count, out EntryInfo info, out ChunkInfo[] chunks)
    {
        info = default;
        chunks = [];
        if (PathValidator.Validate(path, out _) is var invalid and not ErrorCode.Ok)
        {
            return invalid;
        }

        if (first < 0 || count < 0)
        {
            return ErrorCode.InvalidArgument;
        }

        if (ResolveFile(path, out var id) is var code and not ErrorCode.Ok)
        {
            return code;
        }

        var n = inodes[id];

        info = Info(id);
        var take = (int)Math.Clamp((long)n.Count - first, 0, count);
        chunks = new ChunkInfo[take];
        for (var i = 0; i < take; i++)
        {
            var handle = ChunkAt(id, n, first + i);
            var slot = ChunkFind(handle);
            chunks[i] = new ChunkInfo(handle, slot == None ? 0 : this.chunks[slot].Version, n.Goal, id);
        }

        return ErrorCode.Ok;
    }

    public bool TryGetChunk(long handle, out ChunkInfo info)
    {
        var slot = ChunkFind(handle);
        if (slot == None)
        {
            info = default;
            return false;
        }

        var c = chunks[slot];
        info = new ChunkInfo(c.Handle, c.Version, inodes[c.Owner].Goal, c.Owner);
        return true;
    }

    /// <summary>The entries in the trash (name "&lt;deletedAtMs&gt;-&lt;inode&gt;-&lt;name&gt;"), sorted by name.</summary>
    public List<EntryInfo> ListTrash()
    {
        var list = new List<EntryInfo>();
        for (var c = inodes[TrashId].FirstChild; c != None; c = inodes[c].NextSibling)
        {
            list.Add(Info(c));
        }

        list.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return list;
    }

    /// <summary>Resolves <paramref name="path"/> to a file's inode: NotFound and the like, or IsADirectory.</summary>
    private ErrorCode ResolveFile(ReadOnlySpan<byte> path, out int id)
    {
        id = Resolve(path, out var code);
        if (id == None)
        {
            return code;
        }

        return inodes[id].Kind == InodeKind.File ? ErrorCode.Ok : ErrorCode.IsADirectory;
    }
}
