using Gfs.Client.Protocol;
using Gfs.Master.Commands;
using Gfs.Master.State;
using static Gfs.Master.Tests.State.Ops;

namespace Gfs.Master.Tests.State;

public class SetLengthTests
{
    private const int ChunkSize = 1 << 20;
    private readonly MasterState state = new();

    private static SetLengthOp SetLength(string path, long size) => new() { Path = P(path), Size = size };

    public SetLengthTests()
    {
        state.Run(Create("/f", chunkSize: ChunkSize));
        state.Run(Allocate("/f", 0, 10));
        state.Run(Allocate("/f", 1, 11));
    }

    [Fact]
    public void SetLength_RaisesSize_NeverLowersIt()
    {
        Assert.Equal(ErrorCode.Ok, state.Run(SetLength("/f", 1500), time: 5_000).Code);
        Assert.Equal(1500, state.StatOk("/f").Size);
        Assert.Equal(5_000, state.StatOk("/f").MTime);

        Assert.Equal(ErrorCode.Ok, state.Run(SetLength("/f", 700), time: 6_000).Code);
        Assert.Equal(1500, state.StatOk("/f").Size);
        Assert.Equal(5_000, state.StatOk("/f").MTime);
    }

    [Fact]
    public void SetLength_UpToTheAllocatedChunks_AndNotBeyond()
    {
        Assert.Equal(ErrorCode.Ok, state.Run(SetLength("/f", 2L * ChunkSize)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(SetLength("/f", (2L * ChunkSize) + 1)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(SetLength("/f", -1)).Code);
        Assert.Equal(2L * ChunkSize, state.StatOk("/f").Size);
    }

    [Fact]
    public void SetLength_OnMissingOrDirectory_IsTyped()
    {
        state.Run(Mkdir("/d"));
        Assert.Equal(ErrorCode.NotFound, state.Run(SetLength("/nope", 1)).Code);
        Assert.Equal(ErrorCode.IsADirectory, state.Run(SetLength("/d", 0)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(SetLength("bad//path", 0)).Code);
    }

    [Fact]
    public void SetLength_SurvivesSnapshot_AndIsDeterministic()
    {
        var other = new MasterState();
        other.Run(Create("/f", chunkSize: ChunkSize));
        other.Run(Allocate("/f", 0, 10));
        other.Run(Allocate("/f", 1, 11));
        foreach (var s in new[] { state, other })
        {
            s.Run(SetLength("/f", 123_456), time: 9);
            s.Run(SetLength("/f", 100), time: 10);
        }

        Assert.Equal(state.ComputeStateHash(), other.ComputeStateHash());
        var restored = ExactlyOnceTests.RoundTrip(state);
        Assert.Equal(123_456, restored.StatOk("/f").Size);
        Assert.Equal(state.ComputeStateHash(), restored.ComputeStateHash());
    }

    [Fact]
    public void AllocateChunk_AndSetLength_NamingAReplacedFile_AreRefused_AndNamingTheCurrentOne_Accepted()
    {
        var old = state.StatOk("/f").Id;
        state.Run(Delete("/f"));
        state.Run(Create("/f", chunkSize: ChunkSize));
        var current = state.StatOk("/f").Id;
        Assert.NotEqual(old, current);

        var stale = Allocate("/f", 0, 20);
        stale.FileId = old;
        Assert.Equal(ErrorCode.FileReplaced, state.Run(stale).Code);
        Assert.Equal(0, state.StatOk("/f").Count);
        Assert.False(state.TryGetChunk(20, out _));

        var right = Allocate("/f", 0, 21);
        right.FileId = current;
        Assert.Equal(ErrorCode.Ok, state.Run(right).Code);
        Assert.Equal(ErrorCode.Ok, state.Run(Allocate("/f", 1, 22)).Code); // 0: not checked, as before

        Assert.Equal(ErrorCode.FileReplaced, state.Run(new SetLengthOp { Path = P("/f"), Size = 100, FileId = old }).Code);
        Assert.Equal(0, state.StatOk("/f").Size);
        Assert.Equal(ErrorCode.Ok, state.Run(new SetLengthOp { Path = P("/f"), Size = 100, FileId = current }).Code);
        Assert.Equal(ErrorCode.Ok, state.Run(SetLength("/f", 200)).Code);
        Assert.Equal(200, state.StatOk("/f").Size);
    }

    [Fact]
    public void FileChunks_ReturnsHandlesAndVersions_FromAnIndex()
    {
        state.Run(Bump(11, 1));
        Assert.Equal(ErrorCode.Ok, state.FileChunks(P("/f"), 1, 10, out var info, out var chunks));
        Assert.Equal(2, info.Count);
        var only = Assert.Single(chunks);
        Assert.Equal((11L, 2L), (only.Handle, only.Version));
        Assert.Equal(ErrorCode.Ok, state.FileChunks(P("/f"), 5, 10, out _, out var none));
        Assert.Empty(none);
    }
}
