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
    private readonly string[] grantServers;
    private readonly Dictionary<long, ushort[]> grantOverflow;

    internal MasterStateSnapshot(
        PagedArray<Inode>.View inodes,
        NameArena.View names,
        PagedArray<ChunkRecord>.View chunks,
        Dictionary<int, long[]> chunkLists,
        ClientSession[] sessions,
        long appliedCommands,
        long nextChunkHandle,
        string[] grantServers,
        Dictionary<long, ushort[]> grantOverflow)
    {
        this.grantServers = grantServers;
        this.grantOverflow = grantOverflow;
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

    /// <summary>Writes the snapshot (format version 2) and returns its checksum, which doubles as the state hash.</summary>
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
            w.U16(c.Granted0);
            w.U16(c.Granted1);
            w.U16(c.Granted2);
            w.U16(c.BaseBack);
        }

        w.I32(grantServers.Length);
        foreach (var server in grantServers)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(server);
            w.U16((ushort)bytes.Length);
            w.Bytes(bytes);
        }

        // Sorted, so equal states write equal bytes whatever order the dictionary keeps.
        w.I32(grantOverflow.Count);
        foreach (var (handle, numbers) in grantOverflow.OrderBy(g => g.Key))
        {
            w.I64(handle);
            w.U8((byte)numbers.Length);
            foreach (var number in numbers)
            {
                w.U16(number);
            }
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
