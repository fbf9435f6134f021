using Gfs.Client.Protocol;
using Gfs.Master.State;
using static Gfs.Master.Tests.State.Ops;

namespace Gfs.Master.Tests.State;

public class ExactlyOnceTests
{
    [Fact]
    public void RetriedRequest_ReturnsTheFirstResult_AndAppliesOnce()
    {
        var state = new MasterState();
        state.Run(Create("/f"));
        var first = state.Run(Allocate("/f", 0, 500), clientId: 9, requestId: 1);
        Assert.Equal(ErrorCode.Ok, first.Code);
        Assert.False(first.Replayed);

        // The same request again (a client retry after failover): the stored result, nothing new.
        var again = state.Run(Allocate("/f", 0, 500), clientId: 9, requestId: 1);
        Assert.True(again.Replayed);
        Assert.Equal(ErrorCode.Ok, again.Code);
        Assert.Equal(500, again.Value);
        Assert.Equal(1, state.ChunkCount);

        // A fresh request with the same op is applied and gets its own answer.
        Assert.Equal(ErrorCode.Conflict, state.Run(Allocate("/f", 0, 500), clientId: 9, requestId: 2).Code);
    }

    [Fact]
    public void RetriedCreate_DoesNotReportAlreadyExists()
    {
        var state = new MasterState();
        Assert.Equal(ErrorCode.Ok, state.Run(Create("/f"), clientId: 3, requestId: 10).Code);
        var retry = state.Run(Create("/f"), clientId: 3, requestId: 10);
        Assert.Equal(ErrorCode.Ok, retry.Code);
        Assert.True(retry.Replayed);
        Assert.Equal(ErrorCode.AlreadyExists, state.Run(Create("/f"), clientId: 4, requestId: 10).Code);
    }

    [Fact]
    public void ErrorsAreRecordedToo()
    {
        var state = new MasterState();
        Assert.Equal(ErrorCode.NotFound, state.Run(Delete("/f"), clientId: 1, requestId: 1).Code);
        state.Run(Create("/f"));
        var retry = state.Run(Delete("/f"), clientId: 1, requestId: 1);
        Assert.Equal(ErrorCode.NotFound, retry.Code);
        Assert.True(retry.Replayed);
        Assert.Equal(InodeKind.File, state.StatOk("/f").Kind);
    }

    [Fact]
    public void OutOfOrderRequestsWithinTheWindow_AreEachAppliedOnce()
    {
        var state = new MasterState();
        for (var id = 20; id >= 1; id--)
        {
            Assert.Equal(ErrorCode.Ok, state.Run(Create($"/f{id}"), clientId: 5, requestId: id).Code);
        }

        for (var id = 1; id <= 20; id++)
        {
            Assert.True(state.Run(Create($"/f{id}"), clientId: 5, requestId: id).Replayed);
        }

        Assert.Equal(20, state.FileCount);
    }

    [Fact]
    public void RequestOlderThanTheWindow_IsRefused_NotReapplied()
    {
        var state = new MasterState();
        var total = MasterLimits.ClientWindow + 5;
        for (var id = 1; id <= total; id++)
        {
            state.Run(Create($"/f{id}"), clientId: 8, requestId: id);
        }

        state.Run(Delete("/f1"));
        var stale = state.Run(Create("/f1"), clientId: 8, requestId: 1);
        Assert.Equal(ErrorCode.Conflict, stale.Code);
        Assert.Equal(ErrorCode.NotFound, state.Stat("/f1", out _));
        Assert.True(state.Run(Create($"/f{total}"), clientId: 8, requestId: total).Replayed);
    }

    [Fact]
    public void ClientTable_SurvivesSnapshot()
    {
        var state = new MasterState();
        state.Run(Create("/f"), clientId: 77, requestId: 3);
        var restored = RoundTrip(state);
        var retry = restored.Run(Create("/f"), clientId: 77, requestId: 3);
        Assert.True(retry.Replayed);
        Assert.Equal(ErrorCode.Ok, retry.Code);
    }

    [Fact]
    public void BatchRetry_ReturnsEveryPerOpResult()
    {
        var state = new MasterState();
        var batch = new Gfs.Master.Commands.BatchOp { Ops = [Mkdir("/a"), Create("/a/f"), Create("/a/f")] };
        var first = state.Run(batch, clientId: 2, requestId: 1);
        var retry = state.Run(batch, clientId: 2, requestId: 1);
        Assert.True(retry.Replayed);
        Assert.Equal(first.Batch!.Select(r => r.Code), retry.Batch!.Select(r => r.Code));
        Assert.Equal(1, state.FileCount);
    }

    internal static MasterState RoundTrip(MasterState state)
    {
        using var stream = new MemoryStream();
        state.Freeze().WriteTo(stream);
        stream.Position = 0;
        return MasterState.ReadFrom(stream);
    }
}
