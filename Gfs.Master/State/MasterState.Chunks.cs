using Gfs.Client.Protocol;
using Gfs.Master.Commands;
using Gfs.Master.Paths;

namespace Gfs.Master.State;

public sealed partial class MasterState
{
    /// <summary>A file that is not the one a writer opened (<paramref name="fileId"/>, 0 = not checked): the path was deleted and created again.</summary>
    private static CommandResult? Replaced(int id, long fileId)
        => fileId != 0 && id != fileId
            ? CommandResult.Error(ErrorCode.FileReplaced, "the file at this path is not the one this writer opened")
            : null;

    private CommandResult AllocateChunk(byte[] path, int chunkIndex, long handle, string[]? replicas, long fileId, long time)
    {
        if (PathValidator.Validate(path, out var reason) != ErrorCode.Ok)
        {
            return Invalid(reason);
        }

        if (handle <= 0)
        {
            return Invalid("chunk handle must be positive");
        }

        var id = Resolve(path, out var code);
        if (id == None)
        {
            return ResolveError(code, "the file");
        }

        if (Replaced(id, fileId) is { } replaced)
        {
            return replaced;
        }

        var file = inodes[id];
        if (file.Kind != InodeKind.File)
        {
            return CommandResult.Error(ErrorCode.IsADirectory, "chunks belong to files");
        }

        if (chunkIndex < file.Count)
        {
            return new CommandResult
            {
                Code = ErrorCode.Conflict,
                Message = "the chunk at this index exists",
                Value = ChunkAt(id, file, chunkIndex),
            };
        }

        if (chunkIndex != file.Count)
        {
            return Invalid("chunks are allocated in order: the index must be the file's chunk count");
        }

        if (ChunkFind(handle) != None)
        {
            return CommandResult.Error(ErrorCode.Conflict, "the chunk handle is in use");
        }

        var slot = chunks.Add();
        ref var c = ref chunks.GetForWrite(slot);
        c.Handle = handle;
        c.Version = 1;
        c.Owner = id;
        ChunkIndexInsert(slot);
        RecordGrant(slot, replicas, baseVersion: 0);

        ref var w = ref inodes.GetForWrite(id);
        if (w.Count == 0)
        {
            w.Chunk0 = handle;
        }
        else
        {
            var list = chunkLists.TryGetValue(id, out var old) ? old : [w.Chunk0];
            var grown = new long[list.Length + 1];
            list.CopyTo(grown, 0);
            grown[^1] = handle;
            chunkLists[id] = grown;
        }

        w.Count++;
        w.MTime = time;
        NextChunkHandle = Math.Max(NextChunkHandle, handle + 1);
        return new CommandResult { Code = ErrorCode.Ok, Value = handle, Value2 = 1, Replicas = replicas ?? [] };
    }

    private long ChunkAt(int id, in Inode file, int index)
        => index == 0 ? file.Chunk0 : chunkLists[id][index];

    private CommandResult BumpChunkVersion(BumpChunkVersionOp op)
    {
        var handle = op.Handle;
        var expectedVersion = op.ExpectedVersion;
        var slot = ChunkFind(handle);
        if (slot == None)
        {
            return NotFound("the chunk");
        }

        var current = chunks[slot].Version;
        if (current != expectedVersion)
        {
            return new CommandResult { Code = ErrorCode.Conflict, Message = "the chunk version changed", Value = current };
        }

        if (current == uint.MaxValue)
        {
            return CommandResult.Error(ErrorCode.Conflict, "the chunk version cannot grow further");
        }

        if (op.BaseVersion > current)
        {
            return Invalid("a grant's base version cannot be above the chunk's version");
        }

        chunks.GetForWrite(slot).Version = current + 1;
        RecordGrant(slot, op.Replicas, op.BaseVersion switch { 0 => current, < 0 => 0, var b => b });
        return CommandResult.WithValue(current + 1);
    }

    private CommandResult SetLength(byte[] path, long size, long fileId, long time)
    {
        if (PathValidator.Validate(path, out var reason) != ErrorCode.Ok)
        {
            return Invalid(reason);
        }

        if (size < 0)
        {
            return Invalid("a file length cannot be negative");
        }

        var id = Resolve(path, out var code);
        if (id == None)
        {
            return ResolveError(code, "the file");
        }

        if (Replaced(id, fileId) is { } replaced)
        {
            return replaced;
        }

        var file = inodes[id];
        if (file.Kind != InodeKind.File)
        {
            return CommandResult.Error(ErrorCode.IsADirectory, "lengths belong to files");
        }

        if (size > (long)file.Count << file.ChunkSizeLog2)
        {
            return Invalid($"length {size} lies beyond the file's {file.Count} chunks");
        }

        if (size > file.Size)
        {
            ref var w = ref inodes.GetForWrite(id);
            w.Size = size;
            w.MTime = time;
        }

        return CommandResult.WithValue(id);
    }
}
