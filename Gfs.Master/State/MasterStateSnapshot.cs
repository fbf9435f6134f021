using Gfs.Client.Protocol;
using Gfs.Master.Commands;
using MessagePack;

namespace Gfs.Master.State;

/// <summary>
/// A frozen view of <see cref="MasterState"/> (see <see cref="MasterState.Freeze"/>). Writing it streams
/// the state page by page through a 256 KiB buffer; it never builds the whole image in memory.
/// </summary>
public sealed class MasterStateSnapshot
{
    private readonly PagedArray<Inode>.View inodes;
    private readonly NameArena.View names;
    private readonly PagedArray<ChunkRecord>.View chunks;
    private readonly Dictionary<int, long[]> chunkLists;
    private readonly ClientSession[] sessions;
    private readonly long nextChunkHandle;

    internal MasterStateSnapshot(
        PagedArray<Inode>.View inodes,
        NameArena.View names,
        PagedArray<ChunkRecord>.View chunks,
        Dictionary<int, long[]> chunkLists,
        ClientSession[] sessions,
        long appliedCommands,
        long nextChunkHandle)
    {
        this.inodes = inodes;
        this.names = names;
        this.chunks = chunks;
        this.chunkLists = chunkLists;
        this.sessions = sessions;
        AppliedCommands = appliedCommands;
        this.nextChunkHandle = nextChunkHandle;
    }

    public long AppliedCommands { get; }

    public int InodeCount => inodes.Count;

    /// <summary>Writes the snapshot (format version 1) and returns its checksum, which doubles as the state hash.</summary>
    public ulong WriteTo(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var w = new SnapshotFormat.Writer(destination);
        w.Bytes(SnapshotFormat.Magic);
        w.U32(SnapshotFormat.Version);
        w.I64(AppliedCommands);
        w.I64(nextChunkHandle);

        w.I32(inodes.Count);
        for (var id = 0; id < inodes.Count; id++)
        {
            ref readonly var n = ref inodes[id];
            w.U8((byte)n.Kind);
            if (n.Kind == InodeKind.Free)
            {
                continue;
            }

            w.I32(n.Parent);
            w.I64(n.MTime);
            w.I64(n.Size);
            w.U8(n.Goal);
            w.U8(n.ChunkSizeLog2);
            w.U16(n.NameLength);
            w.Bytes(names.Get(n.NameOffset, n.NameLength));
            if (n.Kind == InodeKind.File)
            {
                w.I32(n.Count);
                if (n.Count == 1)
                {
                    w.I64(n.Chunk0);
                }
                else if (n.Count > 1)
                {
                    foreach (var handle in chunkLists[id])
                    {
                        w.I64(handle);
                    }
                }
            }
        }

        w.I32(chunks.Count);
        for (var slot = 0; slot < chunks.Count; slot++)
        {
            ref readonly var c = ref chunks[slot];
            w.I64(c.Handle);
            w.U32(c.Version);
            w.I32(c.Owner);
        }

        w.I32(sessions.Length);
        foreach (var s in sessions)
        {
            w.I64(s.ClientId);
            w.I64(s.Floor);
            w.I64(s.LastSeen);
            w.I32(s.Count);
            for (var i = 0; i < s.Count; i++)
            {
                w.I64(s.Ids[i]);
                var bytes = MessagePackSerializer.Serialize(s.Results[i], WireFormat.Options);
                w.I32(bytes.Length);
                w.Bytes(bytes);
            }
        }

        return w.Finish();
    }

    internal static CommandResult ReadResult(ReadOnlySpan<byte> bytes)
        => MessagePackSerializer.Deserialize<CommandResult>(bytes.ToArray(), WireFormat.Options);
}
