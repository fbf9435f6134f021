namespace Gfs.Master.State;

/// <summary>
/// The master's replicated state: namespace, chunk table and exactly-once table, in memory.
/// Every change goes through <see cref="Apply(Commands.MasterCommand)"/>, which is deterministic (no
/// clock, randomness or I/O; the leader stamps time and handles into the command) and never throws.
/// Not thread-safe: one writer (the apply loop) at a time, readers excluded by the caller's lock;
/// <see cref="Freeze"/> hands out a view that another thread may serialise while apply goes on.
/// </summary>
/// <remarks>
/// Layout (docs/master.md): inodes are 56-byte structs in copy-on-write pages, names live in an
/// append-only arena, (parent, name) → inode and handle → chunk are open-addressing tables of ints,
/// a directory links its children through sibling fields. No per-entry objects.
/// </remarks>
public sealed partial class MasterState
{
    /// <summary>Inode of the root directory.</summary>
    public const int RootId = 0;

    /// <summary>Inode of the hidden trash directory; not reachable by any path.</summary>
    public const int TrashId = 1;

    private const int None = -1;

    private readonly PagedArray<Inode> inodes = new();
    private readonly NameArena names = new();
    private readonly PagedArray<ChunkRecord> chunks = new();
    private readonly Dictionary<int, long[]> chunkLists = []; // files with two or more chunks: all handles
    private readonly Dictionary<long, ClientSession> sessions = [];
    private int[] nameSlots = new int[1024];
    private int nameSlotsUsed;
    private int[] chunkSlots = new int[1024];
    private int chunkSlotsUsed;

    public MasterState()
    {
        AddRoot();
        AddRoot();
    }

    /// <summary>Commands applied so far, including replays and refusals; part of the state.</summary>
    public long AppliedCommands { get; private set; }

    /// <summary>One above the largest chunk handle ever allocated; the leader allocates from here.</summary>
    public long NextChunkHandle { get; private set; } = 1;

    /// <summary>Inode slots in use (files, directories, both roots, trash contents).</summary>
    public int InodeCount => inodes.Count;

    public int ChunkCount => chunks.Count;

    /// <summary>Files, including those in the trash.</summary>
    public int FileCount { get; private set; }

    /// <summary>Directories other than the root and the trash, including those in the trash.</summary>
    public int DirectoryCount { get; private set; }

    public int ClientCount => sessions.Count;

    private void AddRoot()
    {
        var id = inodes.Add();
        ref var n = ref inodes.GetForWrite(id);
        n.Parent = None;
        n.FirstChild = None;
        n.NextSibling = None;
        n.PrevSibling = None;
        n.Kind = InodeKind.Directory;
        n.NameOffset = names.Append([]);
    }

    private int NewInode(int parent, ReadOnlySpan<byte> name, InodeKind kind, long time)
    {
        var id = inodes.Add();
        ref var n = ref inodes.GetForWrite(id);
        n.Parent = parent;
        n.NameOffset = names.Append(name);
        n.NameLength = checked((ushort)name.Length);
        n.Kind = kind;
        n.MTime = time;
        n.FirstChild = None;
        n.Count = 0;
        Link(id, parent);
        IndexInsert(id);
        if (kind == InodeKind.File)
        {
            FileCount++;
        }
        else
        {
            DirectoryCount++;
        }

        inodes.GetForWrite(parent).MTime = time;
        return id;
    }

    private void Link(int id, int parent)
    {
        ref var p = ref inodes.GetForWrite(parent);
        var first = p.FirstChild;
        p.FirstChild = id;
        p.Count++;
        ref var n = ref inodes.GetForWrite(id);
        n.Parent = parent;
        n.PrevSibling = None;
        n.NextSibling = first;
        if (first != None)
        {
            inodes.GetForWrite(first).PrevSibling = id;
        }
    }

    private void Unlink(int id)
    {
        var n = inodes[id];
        if (n.PrevSibling != None)
        {
            inodes.GetForWrite(n.PrevSibling).NextSibling = n.NextSibling;
        }
        else
        {
            inodes.GetForWrite(n.Parent).FirstChild = n.NextSibling;
        }

        if (n.NextSibling != None)
        {
            inodes.GetForWrite(n.NextSibling).PrevSibling = n.PrevSibling;
        }

        inodes.GetForWrite(n.Parent).Count--;
    }

    private ReadOnlySpan<byte> NameOf(in Inode n) => names.Get(n.NameOffset, n.NameLength);

    /// <summary>
    /// Captures the state for a snapshot in O(pages + clients): later applies copy the pages they touch.
    /// Call it from the apply thread (or with apply excluded); the result may be written from any thread.
    /// </summary>
    public MasterStateSnapshot Freeze()
    {
        var sessionCopies = sessions.Values.Select(s => s.Clone()).OrderBy(s => s.ClientId).ToArray();
        return new MasterStateSnapshot(
            inodes.Freeze(),
            names.Freeze(),
            chunks.Freeze(),
            new Dictionary<int, long[]>(chunkLists),
            sessionCopies,
            AppliedCommands,
            NextChunkHandle,
            [.. grantServers],
            new Dictionary<long, ushort[]>(grantOverflow));
    }

    /// <summary>Managed bytes held by the state's big structures (for memory reports; excludes sessions).</summary>
    public long StructureBytes =>
        inodes.AllocatedBytes(56) + names.AllocatedBytes + chunks.AllocatedBytes(24)
        + (nameSlots.Length * 4L) + (chunkSlots.Length * 4L);
}
