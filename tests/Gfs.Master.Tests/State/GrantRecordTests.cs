using Gfs.Master.Commands;
using Gfs.Master.State;
using static Gfs.Master.Tests.State.Ops;

namespace Gfs.Master.Tests.State;

/// <summary>The state keeps, per chunk, whom its current version was granted to and from which version.</summary>
public class GrantRecordTests
{
    [Fact]
    public void AllocationsAndBumps_RecordTheirGrant()
    {
        var state = new MasterState();
        state.Run(Create("/f"));
        state.Run(Allocate("/f", 0, 7, "a", "b", "c"));
        Assert.Equal((1L, 0L, "a,b,c"), Show(state.GrantOf(7)));

        state.Run(Bump(7, 1, "b", "c"));
        Assert.Equal((2L, 1L, "b,c"), Show(state.GrantOf(7)));

        // A convergence grant from older replicas keeps their version as the base.
        state.Run(new BumpChunkVersionOp { Handle = 7, ExpectedVersion = 2, Replicas = ["a", "c"], BaseVersion = 1 });
        Assert.Equal((3L, 1L, "a,c"), Show(state.GrantOf(7)));

        // Re-created afresh: nothing to come from.
        state.Run(new BumpChunkVersionOp { Handle = 7, ExpectedVersion = 3, Replicas = ["d"], BaseVersion = -1 });
        Assert.Equal((4L, 0L, "d"), Show(state.GrantOf(7)));

        // A bump that names nobody leaves the grant unknown: replicas behind the version count as stale.
        state.Run(Bump(7, 4));
        Assert.Null(state.GrantOf(7));
        Assert.Null(state.GrantOf(12345));
    }

    [Fact]
    public void ABaseAboveTheVersion_IsRefused_AndChangesNothing()
    {
        var state = new MasterState();
        state.Run(Create("/f"));
        state.Run(Allocate("/f", 0, 7, "a"));
        var result = state.Run(new BumpChunkVersionOp { Handle = 7, ExpectedVersion = 1, Replicas = ["a"], BaseVersion = 5 });
        Assert.Equal(Gfs.Client.Protocol.ErrorCode.InvalidArgument, result.Code);
        Assert.Equal((1L, 0L, "a"), Show(state.GrantOf(7)));
    }

    [Fact]
    public void Grants_SurviveASnapshot_IncludingListsLongerThanThree()
    {
        var state = new MasterState();
        state.Run(Create("/f", goal: 5));
        state.Run(Allocate("/f", 0, 7, "a", "b", "c", "d", "e"));
        state.Run(Allocate("/f", 1, 8, "e", "a"));
        state.Run(Bump(8, 1, "a"));

        using var image = new MemoryStream();
        var hash = state.Freeze().WriteTo(image);
        image.Position = 0;
        var restored = MasterState.ReadFrom(image);

        Assert.Equal(hash, restored.ComputeStateHash());
        Assert.Equal((1L, 0L, "a,b,c,d,e"), Show(restored.GrantOf(7)));
        Assert.Equal((2L, 1L, "a"), Show(restored.GrantOf(8)));

        // The restored state numbers servers the same way: the next grant gives the same hash on both.
        state.Run(Bump(7, 1, "f", "b"));
        restored.Run(Bump(7, 1, "f", "b"));
        Assert.Equal(state.ComputeStateHash(), restored.ComputeStateHash());
    }

    [Fact]
    public void ASnapshotOfTheFormatWithoutGrants_StillLoads_WithGrantsUnknown()
    {
        using var image = new MemoryStream(VersionOneSnapshot());
        var state = MasterState.ReadFrom(image);

        Assert.True(state.TryGetChunk(42, out var chunk));
        Assert.Equal(3, chunk.Version);
        Assert.Null(state.GrantOf(42));
        Assert.Equal(1, state.FileCount);
    }

    private static (long Version, long Base, string Servers) Show(ChunkGrant? grant)
        => grant is null ? (0, 0, "none") : (grant.Version, grant.BaseVersion, string.Join(',', grant.Servers));

    /// <summary>A version-1 snapshot (the format before grants were kept): root, trash, /f with chunk 42 at version 3.</summary>
    private static byte[] VersionOneSnapshot()
    {
        using var image = new MemoryStream();
        var w = new SnapshotFormat.Writer(image);
        w.Bytes(SnapshotFormat.Magic);
        w.U32(SnapshotFormat.VersionWithoutGrants);
        w.I64(5);   // applied commands
        w.I64(43);  // next chunk handle
        w.I32(3);   // inodes: root, trash, /f
        foreach (var id in new[] { 0, 1 })
        {
            w.U8((byte)InodeKind.Directory);
            w.I32(-1);
            w.I64(0);
            w.I64(0);
            w.U8(0);
            w.U8(0);
            w.U16(0);
        }

        w.U8((byte)InodeKind.File);
        w.I32(0);           // parent: the root
        w.I64(1_000);       // mtime
        w.I64(10);          // size
        w.U8(3);            // goal
        w.U8(26);           // 64 MiB chunks
        w.U16(1);
        w.Bytes("f"u8);
        w.I32(1);           // one chunk
        w.I64(42);
        w.I32(1);           // chunk table
        w.I64(42);
        w.U32(3);
        w.I32(2);
        w.I32(0);           // sessions
        w.Finish();
        return image.ToArray();
    }
}
