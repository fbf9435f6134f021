using System.Numerics;
using Gfs.Master.Commands;

namespace Gfs.Master.State;

public sealed partial class MasterState
{
    private MasterState(bool empty)
    {
        _ = empty;
    }

    /// <summary>A hash of the whole replicated state: equal on every replica that applied the same log.</summary>
    public ulong ComputeStateHash() => Freeze().WriteTo(Stream.Null);

    /// <summary>Loads a snapshot written by <see cref="MasterStateSnapshot.WriteTo"/>.</summary>
    /// <exception cref="InvalidDataException">The snapshot is truncated, corrupt or of an unknown version.</exception>
    public static MasterState ReadFrom(Stream source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var r = new SnapshotFormat.Reader(source);
        if (!r.Bytes(8).SequenceEqual(SnapshotFormat.Magic))
        {
            throw new InvalidDataException("not a master snapshot");
        }

        var version = r.U32();
        if (version is not (SnapshotFormat.Version or SnapshotFormat.VersionWithoutGrants))
        {
            throw new InvalidDataException($"master snapshot version {version} is not supported");
        }

        var state = new MasterState(empty: true)
        {
            AppliedCommands = r.I64(),
            NextChunkHandle = r.I64(),
        };

        var inodeCount = r.Count(int.MaxValue);
        state.nameSlots = new int[(int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1024, (inodeCount * 4L / 3) + 2))];
        for (var id = 0; id < inodeCount; id++)
        {
            var slot = state.inodes.Add();
            ref var n = ref state.inodes.GetForWrite(slot);
            n.Kind = (InodeKind)r.U8();
            n.FirstChild = None;
            n.NextSibling = None;
            n.PrevSibling = None;
            if (n.Kind == InodeKind.Free)
            {
                continue;
            }

            if (n.Kind is not (InodeKind.File or InodeKind.Directory))
            {
                throw new InvalidDataException($"inode {id} has unknown kind {n.Kind}");
            }

            n.Parent = r.I32();
            n.MTime = r.I64();
            n.Size = r.I64();
            n.Goal = r.U8();
            n.ChunkSizeLog2 = r.U8();
            n.NameLength = r.U16();
            n.NameOffset = state.names.Append(r.Bytes(n.NameLength));
            if (n.Kind == InodeKind.File)
            {
                n.Count = r.Count(int.MaxValue);
                if (n.Count == 1)
                {
                    n.Chunk0 = r.I64();
                }
                else if (n.Count > 1)
                {
                    var list = new long[n.Count];
                    for (var i = 0; i < list.Length; i++)
                    {
                        list[i] = r.I64();
                    }

                    n.Chunk0 = list[0];
                    state.chunkLists[id] = list;
                }

                state.FileCount++;
            }
            else if (id > TrashId)
            {
                state.DirectoryCount++;
            }
        }

        if (inodeCount < 2)
        {
            throw new InvalidDataException("snapshot lacks the root and the trash");
        }

        // Link children once every inode exists: a parent may have a larger id than its child after a rename.
        for (var id = TrashId + 1; id < inodeCount; id++)
        {
            var n = state.inodes[id];
            if (n.Kind == InodeKind.Free)
            {
                continue;
            }

            if ((uint)n.Parent >= (uint)inodeCount || state.inodes[n.Parent].Kind != InodeKind.Directory)
            {
                throw new InvalidDataException($"inode {id} has an invalid parent");
            }

            if (n.Kind == InodeKind.Directory)
            {
                state.inodes.GetForWrite(id).Count = 0;
            }
        }

        for (var id = TrashId + 1; id < inodeCount; id++)
        {
            if (state.inodes[id].Kind != InodeKind.Free)
            {
                state.Link(id, state.inodes[id].Parent);
                state.IndexInsert(id);
            }
        }

        var chunkCount = r.Count(int.MaxValue);
        state.chunkSlots = new int[(int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1024, (chunkCount * 4L / 3) + 2))];
        for (var i = 0; i < chunkCount; i++)
        {
            var slot = state.chunks.Add();
            ref var c = ref state.chunks.GetForWrite(slot);
            c.Handle = r.I64();
            c.Version = r.U32();
            c.Owner = r.I32();
            if (version >= SnapshotFormat.Version)
            {
                c.Granted0 = r.U16();
                c.Granted1 = r.U16();
                c.Granted2 = r.U16();
                c.BaseBack = r.U16();
            }

            if (c.Handle != 0)
            {
                state.ChunkIndexInsert(slot);
            }
        }

        if (version >= SnapshotFormat.Version)
        {
            ReadGrants(r, state);
        }

        var sessionCount = r.Count(MasterLimits.MaxClients);
        for (var i = 0; i < sessionCount; i++)
        {
            var session = new ClientSession(r.I64()) { Floor = r.I64(), LastSeen = r.I64() };
            var n = r.Count(MasterLimits.ClientWindow);
            var ids = new long[n];
            var results = new CommandResult[n];
            for (var j = 0; j < n; j++)
            {
                ids[j] = r.I64();
                results[j] = MasterStateSnapshot.ReadResult(r.Bytes(r.Count(1 << 20)));
            }

            session.Load(ids, results);
            state.sessions.Add(session.ClientId, session);
        }

        r.Finish();
        return state;
    }

    private static void ReadGrants(SnapshotFormat.Reader r, MasterState state)
    {
        var servers = r.Count(ushort.MaxValue);
        for (var i = 0; i < servers; i++)
        {
            var name = System.Text.Encoding.UTF8.GetString(r.Bytes(r.U16()));
            if (!state.grantServerNumbers.TryAdd(name, (ushort)(i + 1)))
            {
                throw new InvalidDataException($"snapshot names server {name} twice");
            }

            state.grantServers.Add(name);
        }

        var overflow = r.Count(int.MaxValue);
        for (var i = 0; i < overflow; i++)
        {
            var handle = r.I64();
            var numbers = new ushort[r.U8()];
            for (var j = 0; j < numbers.Length; j++)
            {
                numbers[j] = r.U16();
                if (numbers[j] == 0 || numbers[j] > servers)
                {
                    throw new InvalidDataException($"snapshot grants chunk {handle} to an unknown server");
                }
            }

            state.grantOverflow[handle] = numbers;
        }
    }
}
