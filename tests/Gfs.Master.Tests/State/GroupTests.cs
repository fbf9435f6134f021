using Gfs.Client.Protocol;
using Gfs.Master.Commands;
using Gfs.Master.State;
using static Gfs.Master.Tests.State.Ops;

namespace Gfs.Master.Tests.State;

public class GroupTests
{
    private static MasterCommand Command(MasterOp op, long clientId, long requestId, long time = 1_000) => new() { ClientId = clientId, RequestId = requestId, Timestamp = time, Op = op };

    private static CommandResult RunGroup(MasterState state, params MasterCommand[] commands)
        => state.Apply(MasterState.Decode(new System.Buffers.ReadOnlySequence<byte>(MasterState.Encode(new MasterCommand { Timestamp = 1_000, Op = new GroupOp { Commands = commands } }))));

    [Fact]
    public void Group_AppliesEachCommandOnItsOwn_WithPerRequestExactlyOnce()
    {
        var state = new MasterState();
        Assert.Equal(ErrorCode.Ok, state.Run(Create("/before"), clientId: 7, requestId: 1).Code);

        var result = RunGroup(
            state,
            Command(Create("/a"), clientId: 5, requestId: 1),
            Command(Create("/a"), clientId: 6, requestId: 1),
            Command(Create("/before"), clientId: 7, requestId: 1),
            Command(Create("/b"), clientId: 5, requestId: 2));

        Assert.Equal(ErrorCode.Ok, result.Code);
        var results = result.Batch!;
        Assert.Equal(4, results.Length);
        Assert.Equal(ErrorCode.Ok, results[0].Code);
        Assert.Equal(ErrorCode.AlreadyExists, results[1].Code);
        Assert.True(results[2].Replayed); // client 7's request 1 was applied before: answered from the table
        Assert.Equal(ErrorCode.Ok, results[2].Code);
        Assert.Equal(ErrorCode.Ok, results[3].Code);

        // Retrying a grouped request on its own (after a failover) replays its first result.
        var retry = state.Run(Create("/a"), clientId: 6, requestId: 1);
        Assert.True(retry.Replayed);
        Assert.Equal(ErrorCode.AlreadyExists, retry.Code);
        Assert.Equal(3, state.FileCount);
    }

    [Fact]
    public void Group_FromAClient_OrNested_IsRefused_AndChangesNothing()
    {
        var state = new MasterState();

        var fromClient = state.Apply(new MasterCommand { ClientId = 3, RequestId = 1, Timestamp = 1, Op = new GroupOp { Commands = [Command(Create("/x"), 3, 2)] } });
        var nested = RunGroup(state, new MasterCommand { Op = new GroupOp { Commands = [Command(Create("/y"), 4, 1)] } });

        Assert.Equal(ErrorCode.InvalidArgument, fromClient.Code);
        Assert.Equal(ErrorCode.InvalidArgument, nested.Batch![0].Code);
        Assert.Equal(0, state.FileCount);
    }

    [Fact]
    public void Group_IsDeterministic_AcrossReplicas()
    {
        var commands = Enumerable.Range(0, 200).Select(i => Command(i % 3 == 0 ? Mkdir($"/d{i}") : Create($"/f{i % 50}"), clientId: 1 + (i % 4), requestId: 1 + (i / 4), time: 1_000 + i)).ToArray();
        var one = new MasterState();
        var two = new MasterState();

        RunGroup(one, commands[..100]);
        RunGroup(one, commands[100..]);
        RunGroup(two, commands[..100]);
        RunGroup(two, commands[100..]);

        Assert.Equal(one.ComputeStateHash(), two.ComputeStateHash());
    }
}
