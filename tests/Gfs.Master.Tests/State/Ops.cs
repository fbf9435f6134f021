using Gfs.Master.Commands;
using Gfs.Master.Paths;
using Gfs.Master.State;

namespace Gfs.Master.Tests.State;

/// <summary>Terse command builders for tests: every call goes through the log encoding.</summary>
internal static class Ops
{
    public static byte[] P(string path) => System.Text.Encoding.UTF8.GetBytes(path);

    public static MakeDirectoryOp Mkdir(string path, bool parents = false) => new() { Path = P(path), Parents = parents };

    public static CreateFileOp Create(string path, int goal = 3, int chunkSize = 0) => new() { Path = P(path), Goal = goal, ChunkSize = chunkSize };

    public static RenameOp Rename(string from, string to) => new() { From = P(from), To = P(to) };

    public static DeleteOp Delete(string path, bool recursive = false) => new() { Path = P(path), Recursive = recursive };

    public static SetReplicationOp SetGoal(string path, int goal) => new() { Path = P(path), Goal = goal };

    public static AllocateChunkOp Allocate(string path, int index, long handle, params string[] replicas)
        => new() { Path = P(path), ChunkIndex = index, Handle = handle, Replicas = replicas };

    public static BumpChunkVersionOp Bump(long handle, long expected, params string[] replicas) => new() { Handle = handle, ExpectedVersion = expected, Replicas = replicas };

    /// <summary>Applies <paramref name="op"/> as a leader command (no client), encoded and decoded like a log entry.</summary>
    public static CommandResult Run(this MasterState state, MasterOp op, long time = 1_000, long clientId = 0, long requestId = 0)
    {
        var bytes = MasterState.Encode(new MasterCommand { ClientId = clientId, RequestId = requestId, Timestamp = time, Op = op });
        return state.Apply(new System.Buffers.ReadOnlySequence<byte>(bytes));
    }

    public static EntryInfo StatOk(this MasterState state, string path)
    {
        var code = state.Stat(PathValidator.Encode(path), out var info);
        Xunit.Assert.Equal(Gfs.Client.Protocol.ErrorCode.Ok, code);
        return info;
    }
}
