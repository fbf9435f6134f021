using System.Globalization;
using System.Numerics;
using System.Text;
using Gfs.Client.Protocol;
using Gfs.Master.Commands;
using Gfs.Master.Paths;

namespace Gfs.Master.State;

public sealed partial class MasterState
{
    private static CommandResult Invalid(string? reason) => CommandResult.Error(ErrorCode.InvalidArgument, reason ?? "invalid argument");

    private static CommandResult NotFound(string what) => CommandResult.Error(ErrorCode.NotFound, $"{what} does not exist");

    /// <summary>
    /// Walks <paramref name="path"/> (already validated) down to its last component. Returns the inode,
    /// or None with <paramref name="code"/> NotFound or NotADirectory (a file in the middle).
    /// </summary>
    private int Resolve(ReadOnlySpan<byte> path, out ErrorCode code)
    {
        var current = RootId;
        var rest = path[1..];
        while (!rest.IsEmpty)
        {
            if (inodes[current].Kind != InodeKind.Directory)
            {
                code = ErrorCode.NotADirectory;
                return None;
            }

            var slash = rest.IndexOf((byte)'/');
            var component = slash < 0 ? rest : rest[..slash];
            current = IndexFind(current, component);
            if (current == None)
            {
                code = ErrorCode.NotFound;
                return None;
            }

            rest = slash < 0 ? [] : rest[(slash + 1)..];
        }

        code = ErrorCode.Ok;
        return current;
    }

    /// <summary>Resolves the parent directory of a validated, non-root path and returns the last component.</summary>
    private int ResolveParent(ReadOnlySpan<byte> path, out ReadOnlySpan<byte> leaf, out ErrorCode code)
    {
        var slash = path.LastIndexOf((byte)'/');
        leaf = path[(slash + 1)..];
        var parent = Resolve(slash == 0 ? "/"u8 : path[..slash], out code);
        if (parent != None && inodes[parent].Kind != InodeKind.Directory)
        {
            code = ErrorCode.NotADirectory;
            return None;
        }

        return parent;
    }

    private static CommandResult ResolveError(ErrorCode code, string what) => code switch
    {
        ErrorCode.NotADirectory => CommandResult.Error(ErrorCode.NotADirectory, $"a component of {what} is not a directory"),
        _ => NotFound(what),
    };

    private CommandResult MakeDirectory(byte[] path, bool parents, long time)
    {
        if (PathValidator.Validate(path, out var reason) != ErrorCode.Ok)
        {
            return Invalid(reason);
        }

        if (path.Length == 1)
        {
            return parents ? CommandResult.WithValue(RootId) : CommandResult.Error(ErrorCode.AlreadyExists, "the root exists");
        }

        // Walk the existing prefix first: nothing is created unless the whole operation can succeed.
        var current = RootId;
        ReadOnlySpan<byte> rest = path.AsSpan(1);
        while (true)
        {
            var slash = rest.IndexOf((byte)'/');
            var component = slash < 0 ? rest : rest[..slash];
            var last = slash < 0;
            if (inodes[current].Kind != InodeKind.Directory)
            {
                return CommandResult.Error(ErrorCode.NotADirectory, "a component of the path is not a directory");
            }

            var child = IndexFind(current, component);
            if (child == None)
            {
                if (!last && !parents)
                {
                    return NotFound("the parent directory");
                }

                break;
            }

            if (last)
            {
                return parents && inodes[child].Kind == InodeKind.Directory
                    ? CommandResult.WithValue(child)
                    : CommandResult.Error(ErrorCode.AlreadyExists, "the path exists");
            }

            current = child;
            rest = rest[(slash + 1)..];
        }

        while (true)
        {
            var slash = rest.IndexOf((byte)'/');
            var component = slash < 0 ? rest : rest[..slash];
            current = NewInode(current, component, InodeKind.Directory, time);
            if (slash < 0)
            {
                return CommandResult.WithValue(current);
            }

            rest = rest[(slash + 1)..];
        }
    }

    private CommandResult CreateFile(byte[] path, int goal, int chunkSize, long time)
    {
        if (PathValidator.Validate(path, out var reason) != ErrorCode.Ok)
        {
            return Invalid(reason);
        }

        if (path.Length == 1)
        {
            return CommandResult.Error(ErrorCode.AlreadyExists, "the root exists");
        }

        if (goal is < 1 or > MasterLimits.MaxGoal)
        {
            return Invalid($"replication goal must be between 1 and {MasterLimits.MaxGoal}");
        }

        if (chunkSize == 0)
        {
            chunkSize = MasterLimits.DefaultChunkSize;
        }

        if (chunkSize is < MasterLimits.MinChunkSize or > MasterLimits.MaxChunkSize || !BitOperations.IsPow2(chunkSize))
        {
            return Invalid($"chunk size must be a power of two between {MasterLimits.MinChunkSize} and {MasterLimits.MaxChunkSize}");
        }

        var parent = ResolveParent(path, out var leaf, out var code);
        if (parent == None)
        {
            return ResolveError(code, "the parent directory");
        }

        if (IndexFind(parent, leaf) != None)
        {
            return CommandResult.Error(ErrorCode.AlreadyExists, "the path exists");
        }

        var id = NewInode(parent, leaf, InodeKind.File, time);
        ref var n = ref inodes.GetForWrite(id);
        n.Goal = (byte)goal;
        n.ChunkSizeLog2 = (byte)BitOperations.Log2((uint)chunkSize);
        return CommandResult.WithValue(id);
    }

    private CommandResult Rename(byte[] from, byte[] to, long time)
    {
        if (PathValidator.Validate(from, out var reason) != ErrorCode.Ok || PathValidator.Validate(to, out reason) != ErrorCode.Ok)
        {
            return Invalid(reason);
        }

        if (from.Length == 1 || to.Length == 1)
        {
            return Invalid("the root cannot be renamed or replaced");
        }

        var source = Resolve(from, out var code);
        if (source == None)
        {
            return ResolveError(code, "the source");
        }

        var target = ResolveParent(to, out var leaf, out code);
        if (target == None)
        {
            return ResolveError(code, "the destination's parent directory");
        }

        var existing = IndexFind(target, leaf);
        if (existing == source)
        {
            return CommandResult.WithValue(source);
        }

        if (existing != None)
        {
            return CommandResult.Error(ErrorCode.AlreadyExists, "the destination exists");
        }

        for (var a = target; a != None; a = inodes[a].Parent)
        {
            if (a == source)
            {
                return Invalid("a directory cannot be moved into its own subtree");
            }
        }

        var oldParent = inodes[source].Parent;
        IndexRemove(source);
        Unlink(source);
        if (!NameOf(inodes[source]).SequenceEqual(leaf))
        {
            ref var s = ref inodes.GetForWrite(source);
            s.NameOffset = names.Append(leaf);
            s.NameLength = (ushort)leaf.Length;
        }

        Link(source, target);
        IndexInsert(source);
        inodes.GetForWrite(oldParent).MTime = time;
        inodes.GetForWrite(target).MTime = time;
        return CommandResult.WithValue(source);
    }

    private CommandResult Delete(byte[] path, bool recursive, long time)
    {
        if (PathValidator.Validate(path, out var reason) != ErrorCode.Ok)
        {
            return Invalid(reason);
        }

        if (path.Length == 1)
        {
            return Invalid("the root cannot be deleted");
        }

        var id = Resolve(path, out var code);
        if (id == None)
        {
            return ResolveError(code, "the path");
        }

        var n = inodes[id];
        if (n.Kind == InodeKind.Directory && n.Count > 0 && !recursive)
        {
            return CommandResult.Error(ErrorCode.DirectoryNotEmpty, "the directory is not empty");
        }

        // Into the trash as "<deletedAtMs>-<inode>-<name>": unique, and the purge reads the time from it.
        var prefix = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{time}-{id}-"));
        var trashName = new byte[prefix.Length + n.NameLength];
        prefix.CopyTo(trashName, 0);
        NameOf(n).CopyTo(trashName.AsSpan(prefix.Length));

        IndexRemove(id);
        Unlink(id);
        ref var w = ref inodes.GetForWrite(id);
        w.NameOffset = names.Append(trashName);
        w.NameLength = checked((ushort)trashName.Length);
        w.MTime = time;
        Link(id, TrashId);
        IndexInsert(id);
        inodes.GetForWrite(n.Parent).MTime = time;
        return CommandResult.WithValue(id);
    }

    private CommandResult SetReplication(byte[] path, int goal)
    {
        if (PathValidator.Validate(path, out var reason) != ErrorCode.Ok)
        {
            return Invalid(reason);
        }

        if (goal is < 1 or > MasterLimits.MaxGoal)
        {
            return Invalid($"replication goal must be between 1 and {MasterLimits.MaxGoal}");
        }

        var id = Resolve(path, out var code);
        if (id == None)
        {
            return ResolveError(code, "the path");
        }

        if (inodes[id].Kind != InodeKind.File)
        {
            return CommandResult.Error(ErrorCode.IsADirectory, "replication is set on files");
        }

        inodes.GetForWrite(id).Goal = (byte)goal;
        return CommandResult.WithValue(id);
    }
}
