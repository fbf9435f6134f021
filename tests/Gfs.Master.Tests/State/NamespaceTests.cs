using Gfs.Client.Protocol;
using Gfs.Master.State;
using static Gfs.Master.Tests.State.Ops;

namespace Gfs.Master.Tests.State;

public class NamespaceTests
{
    private readonly MasterState state = new();

    [Fact]
    public void Mkdir_CreatesDirectory_AndRefusesDuplicate()
    {
        Assert.Equal(ErrorCode.Ok, state.Run(Mkdir("/a")).Code);
        Assert.Equal(InodeKind.Directory, state.StatOk("/a").Kind);
        Assert.Equal(ErrorCode.AlreadyExists, state.Run(Mkdir("/a")).Code);
        Assert.Equal(ErrorCode.Ok, state.Run(Mkdir("/a", parents: true)).Code);
    }

    [Fact]
    public void Mkdir_WithoutParents_MissingParentIsNotFound()
    {
        Assert.Equal(ErrorCode.NotFound, state.Run(Mkdir("/x/y")).Code);
        Assert.Equal(ErrorCode.NotFound, state.Stat("/x", out _));
    }

    [Fact]
    public void Mkdir_WithParents_CreatesEveryMissingAncestor()
    {
        var result = state.Run(Mkdir("/a/b/c/d", parents: true), time: 77);
        Assert.Equal(ErrorCode.Ok, result.Code);
        Assert.Equal(result.Value, state.StatOk("/a/b/c/d").Id);
        Assert.Equal(77, state.StatOk("/a/b").MTime);
        Assert.Equal(4, state.DirectoryCount);
    }

    [Fact]
    public void Mkdir_UnderAFile_IsNotADirectory_AndCreatesNothing()
    {
        state.Run(Create("/f"));
        Assert.Equal(ErrorCode.NotADirectory, state.Run(Mkdir("/f/x/y", parents: true)).Code);
        Assert.Equal(ErrorCode.NotADirectory, state.Run(Mkdir("/f/x")).Code);
        Assert.Equal(ErrorCode.AlreadyExists, state.Run(Mkdir("/f", parents: true)).Code);
        Assert.Equal(0, state.DirectoryCount);
    }

    [Fact]
    public void Mkdir_Root()
    {
        Assert.Equal(ErrorCode.AlreadyExists, state.Run(Mkdir("/")).Code);
        Assert.Equal(ErrorCode.Ok, state.Run(Mkdir("/", parents: true)).Code);
    }

    [Fact]
    public void Create_RecordsGoalChunkSizeAndTime()
    {
        state.Run(Mkdir("/d"));
        var r = state.Run(Create("/d/f", goal: 2, chunkSize: 1 << 20), time: 1234);
        Assert.Equal(ErrorCode.Ok, r.Code);
        var info = state.StatOk("/d/f");
        Assert.Equal(InodeKind.File, info.Kind);
        Assert.Equal(2, info.Goal);
        Assert.Equal(1 << 20, info.ChunkSize);
        Assert.Equal(1234, info.MTime);
        Assert.Equal("f", info.Name);
        Assert.Equal(r.Value, info.Id);
        Assert.Equal(ErrorCode.Ok, state.Run(Create("/g")).Code);
        Assert.Equal(MasterLimits.DefaultChunkSize, state.StatOk("/g").ChunkSize);
    }

    [Fact]
    public void Create_Errors()
    {
        state.Run(Create("/f"));
        state.Run(Mkdir("/d"));
        Assert.Equal(ErrorCode.AlreadyExists, state.Run(Create("/f")).Code);
        Assert.Equal(ErrorCode.AlreadyExists, state.Run(Create("/d")).Code);
        Assert.Equal(ErrorCode.NotFound, state.Run(Create("/nope/f")).Code);
        Assert.Equal(ErrorCode.NotADirectory, state.Run(Create("/f/g")).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(Create("/g", goal: 0)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(Create("/g", goal: 17)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(Create("/g", chunkSize: 3_000_000)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(Create("/g", chunkSize: 1024)).Code);
        Assert.Equal(ErrorCode.AlreadyExists, state.Run(Create("/")).Code);
        Assert.Equal(ErrorCode.NotFound, state.Stat("/g", out _));
    }

    [Fact]
    public void List_ReturnsChildrenSortedWithAttributes()
    {
        state.Run(Mkdir("/d"));
        state.Run(Create("/d/b", goal: 1));
        state.Run(Mkdir("/d/c"));
        state.Run(Create("/d/a", goal: 2));
        Assert.Equal(ErrorCode.Ok, state.List("/d", out var entries));
        Assert.Equal(["a", "b", "c"], entries.Select(e => e.Name));
        Assert.Equal([InodeKind.File, InodeKind.File, InodeKind.Directory], entries.Select(e => e.Kind));
        Assert.Equal(2, entries[0].Goal);
        Assert.Equal(3, state.StatOk("/d").Count);

        Assert.Equal(ErrorCode.Ok, state.List(Ops.P("/d"), out var page, startAfter: Ops.P("a"), limit: 1));
        Assert.Equal(["b"], page.Select(e => e.Name));
    }

    [Fact]
    public void List_Errors()
    {
        state.Run(Create("/f"));
        Assert.Equal(ErrorCode.NotADirectory, state.List("/f", out _));
        Assert.Equal(ErrorCode.NotFound, state.List("/none", out _));
        Assert.Equal(ErrorCode.NotADirectory, state.List("/f/x", out _));
        Assert.Equal(ErrorCode.InvalidArgument, state.List("relative", out _));
        Assert.Equal(ErrorCode.Ok, state.List("/", out var root));
        Assert.Single(root);
    }

    [Fact]
    public void Stat_Root()
    {
        var root = state.StatOk("/");
        Assert.Equal(InodeKind.Directory, root.Kind);
        Assert.Equal(MasterState.RootId, root.Id);
    }

    [Fact]
    public void Rename_File_MovesItAndKeepsIdentity()
    {
        state.Run(Mkdir("/a"));
        state.Run(Mkdir("/b"));
        var id = state.Run(Create("/a/f")).Value;
        Assert.Equal(ErrorCode.Ok, state.Run(Rename("/a/f", "/b/g")).Code);
        Assert.Equal(ErrorCode.NotFound, state.Stat("/a/f", out _));
        Assert.Equal(id, state.StatOk("/b/g").Id);
        Assert.Equal(0, state.StatOk("/a").Count);
        Assert.Equal(1, state.StatOk("/b").Count);
    }

    [Fact]
    public void Rename_Directory_MovesWholeSubtree()
    {
        state.Run(Mkdir("/a/b/c", parents: true));
        state.Run(Create("/a/b/c/f"));
        state.Run(Mkdir("/z"));
        Assert.Equal(ErrorCode.Ok, state.Run(Rename("/a/b", "/z/b2")).Code);
        Assert.Equal(InodeKind.File, state.StatOk("/z/b2/c/f").Kind);
        Assert.Equal(ErrorCode.NotFound, state.Stat("/a/b", out _));
        Assert.Equal(ErrorCode.NotFound, state.Stat("/a/b/c/f", out _));
    }

    [Fact]
    public void Rename_IntoOwnSubtree_IsRefused_AndChangesNothing()
    {
        state.Run(Mkdir("/a/b", parents: true));
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(Rename("/a", "/a/b/a")).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(Rename("/a", "/a/x")).Code);
        Assert.Equal(InodeKind.Directory, state.StatOk("/a/b").Kind);
        Assert.Equal(1, state.StatOk("/").Count);
    }

    [Fact]
    public void Rename_Errors()
    {
        state.Run(Create("/f"));
        state.Run(Create("/g"));
        Assert.Equal(ErrorCode.NotFound, state.Run(Rename("/none", "/x")).Code);
        Assert.Equal(ErrorCode.AlreadyExists, state.Run(Rename("/f", "/g")).Code);
        Assert.Equal(ErrorCode.NotFound, state.Run(Rename("/f", "/none/x")).Code);
        Assert.Equal(ErrorCode.NotADirectory, state.Run(Rename("/f", "/g/x")).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(Rename("/", "/x")).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(Rename("/f", "/")).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(Rename("/f", "/../x")).Code);
        Assert.Equal(ErrorCode.Ok, state.Run(Rename("/f", "/f")).Code);
        Assert.Equal(InodeKind.File, state.StatOk("/f").Kind);
        Assert.Equal(InodeKind.File, state.StatOk("/g").Kind);
    }

    [Fact]
    public void Rename_SameParentNewName()
    {
        state.Run(Create("/f"));
        Assert.Equal(ErrorCode.Ok, state.Run(Rename("/f", "/h")).Code);
        Assert.Equal(ErrorCode.Ok, state.List("/", out var entries));
        Assert.Equal(["h"], entries.Select(e => e.Name));
    }

    [Fact]
    public void Delete_File_MovesItIntoTrashWithTimestamp()
    {
        state.Run(Mkdir("/d"));
        var id = state.Run(Create("/d/f")).Value;
        Assert.Equal(ErrorCode.Ok, state.Run(Delete("/d/f"), time: 5555).Code);
        Assert.Equal(ErrorCode.NotFound, state.Stat("/d/f", out _));
        var trash = Assert.Single(state.ListTrash());
        Assert.Equal($"5555-{id}-f", trash.Name);
        Assert.Equal(5555, trash.MTime);
        Assert.Equal(id, trash.Id);
        Assert.Equal(ErrorCode.Ok, state.Run(Create("/d/f")).Code);
    }

    [Fact]
    public void Delete_Directory_NonEmptyNeedsRecursive()
    {
        state.Run(Mkdir("/d/e", parents: true));
        Assert.Equal(ErrorCode.DirectoryNotEmpty, state.Run(Delete("/d")).Code);
        Assert.Equal(ErrorCode.Ok, state.Run(Delete("/d/e")).Code);
        Assert.Equal(ErrorCode.Ok, state.Run(Delete("/d")).Code);
        state.Run(Mkdir("/x/y", parents: true));
        Assert.Equal(ErrorCode.Ok, state.Run(Delete("/x", recursive: true)).Code);
        Assert.Equal(ErrorCode.NotFound, state.Stat("/x/y", out _));
        Assert.Equal(3, state.ListTrash().Count);
    }

    [Fact]
    public void Delete_Errors()
    {
        state.Run(Create("/f"));
        Assert.Equal(ErrorCode.NotFound, state.Run(Delete("/none")).Code);
        Assert.Equal(ErrorCode.NotADirectory, state.Run(Delete("/f/x")).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(Delete("/")).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(Delete("/f/")).Code);
    }

    [Fact]
    public void SetReplication_ChangesFileAndChunkGoal()
    {
        state.Run(Create("/f", goal: 3));
        state.Run(Allocate("/f", 0, 10));
        Assert.Equal(ErrorCode.Ok, state.Run(SetGoal("/f", 5)).Code);
        Assert.Equal(5, state.StatOk("/f").Goal);
        Assert.True(state.TryGetChunk(10, out var chunk));
        Assert.Equal(5, chunk.Goal);
        state.Run(Mkdir("/d"));
        Assert.Equal(ErrorCode.IsADirectory, state.Run(SetGoal("/d", 2)).Code);
        Assert.Equal(ErrorCode.NotFound, state.Run(SetGoal("/none", 2)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(SetGoal("/f", 0)).Code);
    }

    [Fact]
    public void AllocateChunk_AppendsInOrder_AndRecordsTheLeadersChoice()
    {
        state.Run(Create("/f", goal: 2));
        var r = state.Run(Allocate("/f", 0, 100, "cs1", "cs2"));
        Assert.Equal(ErrorCode.Ok, r.Code);
        Assert.Equal(100, r.Value);
        Assert.Equal(1, r.Value2);
        Assert.Equal(["cs1", "cs2"], r.Replicas!);
        Assert.Equal(ErrorCode.Ok, state.Run(Allocate("/f", 1, 101)).Code);
        Assert.Equal(ErrorCode.Ok, state.Run(Allocate("/f", 2, 150)).Code);
        Assert.Equal(ErrorCode.Ok, state.GetChunks("/f", out var handles));
        Assert.Equal([100L, 101L, 150L], handles);
        Assert.Equal(151, state.NextChunkHandle);
        Assert.True(state.TryGetChunk(101, out var info));
        Assert.Equal(new ChunkInfo(101, 1, 2, (int)state.StatOk("/f").Id), info);
        Assert.Equal(3, state.StatOk("/f").Count);
    }

    [Fact]
    public void AllocateChunk_Errors()
    {
        state.Run(Create("/f"));
        state.Run(Create("/g"));
        state.Run(Mkdir("/d"));
        state.Run(Allocate("/f", 0, 7));
        var existing = state.Run(Allocate("/f", 0, 8));
        Assert.Equal(ErrorCode.Conflict, existing.Code);
        Assert.Equal(7, existing.Value);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(Allocate("/f", 5, 8)).Code);
        Assert.Equal(ErrorCode.Conflict, state.Run(Allocate("/g", 0, 7)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(Allocate("/g", 0, 0)).Code);
        Assert.Equal(ErrorCode.IsADirectory, state.Run(Allocate("/d", 0, 9)).Code);
        Assert.Equal(ErrorCode.NotFound, state.Run(Allocate("/none", 0, 9)).Code);
        Assert.Equal(1, state.ChunkCount);
    }

    [Fact]
    public void BumpChunkVersion_RaisesByOne_WhenExpectedMatches()
    {
        state.Run(Create("/f"));
        state.Run(Allocate("/f", 0, 42));
        var r = state.Run(Bump(42, 1));
        Assert.Equal(ErrorCode.Ok, r.Code);
        Assert.Equal(2, r.Value);
        var stale = state.Run(Bump(42, 1));
        Assert.Equal(ErrorCode.Conflict, stale.Code);
        Assert.Equal(2, stale.Value);
        Assert.Equal(ErrorCode.NotFound, state.Run(Bump(43, 1)).Code);
        Assert.True(state.TryGetChunk(42, out var info));
        Assert.Equal(2, info.Version);
    }

    [Fact]
    public void Apply_MalformedBytes_IsInvalidArgument()
    {
        var result = state.Apply(new System.Buffers.ReadOnlySequence<byte>([0xC1, 0x00, 0x01]));
        Assert.Equal(ErrorCode.InvalidArgument, result.Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Apply(new Gfs.Master.Commands.MasterCommand()).Code);
    }
}
