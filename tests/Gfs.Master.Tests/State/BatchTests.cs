using Gfs.Client.Protocol;
using Gfs.Master.Commands;
using Gfs.Master.State;
using static Gfs.Master.Tests.State.Ops;

namespace Gfs.Master.Tests.State;

public class BatchTests
{
    [Fact]
    public void Batch_AppliesManyOpsInOneEntry_WithPerOpResults()
    {
        var state = new MasterState();
        var ops = new List<MasterOp> { Mkdir("/d") };
        for (var i = 0; i < 500; i++)
        {
            ops.Add(Create($"/d/f{i}"));
        }

        ops.Add(Create("/d/f0"));          // AlreadyExists
        ops.Add(Delete("/nope"));          // NotFound
        ops.Add(Create("/d/../x"));        // InvalidArgument
        ops.Add(new BatchOp());            // nested batch refused

        var result = state.Run(new BatchOp { Ops = [.. ops] }, time: 99);
        Assert.Equal(ErrorCode.Ok, result.Code);
        Assert.Equal(ops.Count, result.Batch!.Length);
        Assert.All(result.Batch.Take(501), r => Assert.Equal(ErrorCode.Ok, r.Code));
        Assert.Equal(
            [ErrorCode.AlreadyExists, ErrorCode.NotFound, ErrorCode.InvalidArgument, ErrorCode.InvalidArgument],
            result.Batch.Skip(501).Select(r => r.Code));
        Assert.Equal(500, state.StatOk("/d").Count);
        Assert.Equal(99, state.StatOk("/d/f499").MTime);
        Assert.Equal(1, state.AppliedCommands);
    }

    [Fact]
    public void Batch_LaterOpsSeeEarlierOnes()
    {
        var state = new MasterState();
        var result = state.Run(new BatchOp { Ops = [Create("/a"), Rename("/a", "/b"), Allocate("/b", 0, 3), Bump(3, 1)] });
        Assert.All(result.Batch!, r => Assert.Equal(ErrorCode.Ok, r.Code));
        Assert.True(state.TryGetChunk(3, out var chunk));
        Assert.Equal(2, chunk.Version);
    }
}
