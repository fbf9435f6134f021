using Gfs.Client.Data;
using Gfs.Client.Protocol;

namespace Gfs.Client.Tests.Data;

public sealed class RecordAppenderTests
{
    private const int ChunkSize = 64 * 1024;

    [Fact]
    public async Task Append_WhenTheChunkIsFull_PadsAndMovesToTheNextChunkWithANewSequence()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/log", ChunkSize);
        var core = TestData.Core(cluster);
        var appender = new RecordAppender(core);
        var record = TestData.Random(10_000, seed: 20);

        var offsets = new List<long>();
        for (var i = 0; i < 8; i++)
        {
            offsets.Add(await appender.AppendAsync("/log", record, TestContext.Current.CancellationToken));
        }

        // Six records fit in a 64 KiB chunk; the seventh pads it and lands at the start of chunk 1.
        Assert.Equal([0L, 10_000, 20_000, 30_000, 40_000, 50_000, ChunkSize, ChunkSize + 10_000], offsets);
        var padded = Assert.Single(cluster.Appends, a => a.Padded);
        var retried = cluster.Appends[cluster.Appends.IndexOf(padded) + 1];
        Assert.NotEqual(padded.Sequence, retried.Sequence);
        Assert.NotEqual(padded.Handle, retried.Handle);
        Assert.Equal(2, cluster.ChunkCount("/log"));
        Assert.Equal(new byte[ChunkSize - 60_000], cluster.Content("/log", 0, cluster.Servers[1])[60_000..]);

        await core.DrainAsync();
        Assert.Equal(ChunkSize + 20_000, cluster.Size("/log"));
    }

    [Fact]
    public async Task Append_WhenASecondaryFailsToApply_RetriesTheSameSequenceAndGetsTheFirstOffset()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/log", ChunkSize);
        var appender = new RecordAppender(TestData.Core(cluster));
        await appender.AppendAsync("/log", new byte[100], TestContext.Current.CancellationToken);
        cluster.FailApply.Add("cs2");

        var offset = await appender.AppendAsync("/log", TestData.Random(300, seed: 21), TestContext.Current.CancellationToken);

        Assert.Equal(100, offset);
        var attempts = cluster.Appends.Skip(1).ToList();
        Assert.Equal(2, attempts.Count);
        Assert.Equal(attempts[0].Sequence, attempts[1].Sequence);
        Assert.True(attempts[1].Replayed);
        Assert.Contains(cluster.LeaseCalls, c => c.Failed.SequenceEqual(["cs2"]));
        Assert.Equal(400, cluster.Content("/log", 0, cluster.Servers[0]).Length); // written once
    }

    [Fact]
    public async Task Append_ARecordLargerThanAQuarterChunk_IsInvalid()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/log", ChunkSize);
        var appender = new RecordAppender(TestData.Core(cluster));

        var error = await Assert.ThrowsAsync<GfsException>(() => appender.AppendAsync("/log", new byte[(ChunkSize / 4) + 1], TestContext.Current.CancellationToken));
        Assert.Equal(ErrorCode.InvalidArgument, error.Code);
        Assert.Empty(cluster.LeaseCalls);
    }

    [Fact]
    public async Task Append_FromManyTasks_StoresEveryRecordExactlyOnceWithoutOverlap()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/log", ChunkSize);
        var core = TestData.Core(cluster);
        var appender = new RecordAppender(core);
        const int Tasks = 8, PerTask = 40;

        var results = await Task.WhenAll(Enumerable.Range(0, Tasks).Select(t => Task.Run(async () =>
        {
            var mine = new List<(long Offset, byte[] Record)>();
            for (var i = 0; i < PerTask; i++)
            {
                var record = TestData.Random(1000 + (t * 37) + i, seed: (t * 1000) + i);
                mine.Add((await appender.AppendAsync("/log", record, TestContext.Current.CancellationToken), record));
            }

            return mine;
        })));

        var all = results.SelectMany(r => r).OrderBy(r => r.Offset).ToList();
        Assert.Equal(Tasks * PerTask, all.Count);
        for (var i = 1; i < all.Count; i++)
        {
            Assert.True(all[i - 1].Offset + all[i - 1].Record.Length <= all[i].Offset, "records overlap");
        }

        var file = TestData.FileOn(cluster, "/log", cluster.Servers[0]);
        Assert.All(all, r => Assert.Equal(r.Record, file.AsSpan((int)r.Offset, r.Record.Length).ToArray()));
        Assert.All(all, r => Assert.True((r.Offset % ChunkSize) + r.Record.Length <= ChunkSize, "a record crosses a chunk"));
        await core.DrainAsync();
        Assert.Equal(all[^1].Offset + all[^1].Record.Length, cluster.Size("/log"));
        Assert.True(cluster.SetLengthCalls.Count < Tasks * PerTask, "length reports are coalesced");
    }
}
