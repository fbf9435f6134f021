using System.Buffers;
using Gfs.Client.Protocol;
using Gfs.Master.State;

namespace Gfs.Master.Tests.State;

public class DeterminismTests
{
    private static void ApplyAll(MasterState state, IEnumerable<byte[]> log)
    {
        foreach (var entry in log)
        {
            state.Apply(new ReadOnlySequence<byte>(entry));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(42)]
    [InlineData(2026)]
    public void SameLog_GivesSameStateHash_OnEveryReplica(int seed)
    {
        var log = CommandGenerator.Log(seed, 3000);
        var a = new MasterState();
        var b = new MasterState();
        var resultsA = log.Select(e => a.Apply(new ReadOnlySequence<byte>(e))).ToList();
        var resultsB = log.Select(e => b.Apply(new ReadOnlySequence<byte>(e))).ToList();

        Assert.Equal(a.ComputeStateHash(), b.ComputeStateHash());
        Assert.Equal(resultsA.Select(r => (r.Code, r.Value, r.Message)), resultsB.Select(r => (r.Code, r.Value, r.Message)));
        Assert.DoesNotContain(resultsA, r => r.Code == ErrorCode.Internal);

        // The sequence really exercised the state: successes and several kinds of errors.
        Assert.True(a.FileCount > 10);
        Assert.Contains(resultsA, r => r.Code == ErrorCode.AlreadyExists);
        Assert.Contains(resultsA, r => r.Code == ErrorCode.NotFound);
        Assert.Contains(resultsA, r => r.Replayed);
    }

    [Fact]
    public void DifferentLogs_GiveDifferentHashes()
    {
        var a = new MasterState();
        var b = new MasterState();
        ApplyAll(a, CommandGenerator.Log(1, 200));
        ApplyAll(b, CommandGenerator.Log(2, 200));
        Assert.NotEqual(a.ComputeStateHash(), b.ComputeStateHash());
    }

    [Theory]
    [InlineData(7)]
    [InlineData(8)]
    public void SnapshotRestore_GivesSameHash_AndSameFuture(int seed)
    {
        var log = CommandGenerator.Log(seed, 4000);
        var original = new MasterState();
        ApplyAll(original, log.Take(2000));

        var restored = ExactlyOnceTests.RoundTrip(original);
        Assert.Equal(original.ComputeStateHash(), restored.ComputeStateHash());

        // A restored replica must also behave the same from here on (ids, handles, exactly-once table).
        var rest = log.Skip(2000).ToList();
        var r1 = rest.Select(e => original.Apply(new ReadOnlySequence<byte>(e))).Select(r => (r.Code, r.Value, r.Replayed)).ToList();
        var r2 = rest.Select(e => restored.Apply(new ReadOnlySequence<byte>(e))).Select(r => (r.Code, r.Value, r.Replayed)).ToList();
        Assert.Equal(r1, r2);
        Assert.Equal(original.ComputeStateHash(), restored.ComputeStateHash());
    }

    [Fact]
    public void FrozenSnapshot_IsUnaffectedByLaterApplies()
    {
        var log = CommandGenerator.Log(11, 3000);
        var state = new MasterState();
        ApplyAll(state, log.Take(1500));
        var hashAtFreeze = state.ComputeStateHash();
        var frozen = state.Freeze();

        ApplyAll(state, log.Skip(1500));
        Assert.NotEqual(hashAtFreeze, state.ComputeStateHash());

        using var stream = new MemoryStream();
        Assert.Equal(hashAtFreeze, frozen.WriteTo(stream));
        stream.Position = 0;
        Assert.Equal(hashAtFreeze, MasterState.ReadFrom(stream).ComputeStateHash());
    }

    [Fact]
    public void CorruptSnapshot_IsRejected()
    {
        var state = new MasterState();
        ApplyAll(state, CommandGenerator.Log(3, 300));
        state.Apply(new ReadOnlySequence<byte>(MasterState.Encode(new Gfs.Master.Commands.MasterCommand { Timestamp = 1_800_000_000_000, Op = Ops.Create("/checksum-only-knows") })));
        Assert.Equal(ErrorCode.Ok, state.Stat(Ops.P("/checksum-only-knows"), out _));
        using var stream = new MemoryStream();
        state.Freeze().WriteTo(stream);
        var bytes = stream.ToArray();

        // One letter of a file name changed to another: the structure, counts and lengths stay valid,
        // so only the checksum can tell.
        var name = "checksum-only-knows"u8;
        var at = bytes.AsSpan().IndexOf(name);
        Assert.True(at > 0, "the snapshot holds the file name");
        var flipped = (byte[])bytes.Clone();
        flipped[at] = (byte)'x';
        var corrupt = Assert.Throws<InvalidDataException>(() => MasterState.ReadFrom(new MemoryStream(flipped)));
        Assert.Equal("snapshot checksum does not match", corrupt.Message);
        Assert.Throws<InvalidDataException>(() => MasterState.ReadFrom(new MemoryStream(bytes[..(bytes.Length - 20)])));
        var wrongVersion = (byte[])bytes.Clone();
        wrongVersion[8] = 99;
        Assert.Throws<InvalidDataException>(() => MasterState.ReadFrom(new MemoryStream(wrongVersion)));
    }
}
