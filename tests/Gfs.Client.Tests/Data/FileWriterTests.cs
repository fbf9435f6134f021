using Gfs.Client.Data;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Microsoft.Extensions.Time.Testing;

namespace Gfs.Client.Tests.Data;

public sealed class FileWriterTests
{
    private const int ChunkSize = 256 * 1024;

    [Theory]
    [InlineData(0, 256 * 1024, 64 * 1024, 64 * 1024)]
    [InlineData(200 * 1024, 256 * 1024, 64 * 1024, 56 * 1024)]
    [InlineData(256 * 1024, 256 * 1024, 64 * 1024, 64 * 1024)]
    [InlineData(100, 64 * 1024, 1024 * 1024, (64 * 1024) - 100)]
    [InlineData((3L * 1024 * 1024 * 1024) + 5, 64 * 1024 * 1024, 8 * 1024 * 1024, 8 * 1024 * 1024)]
    public void PieceCapacity_EndsAtThePieceSizeOrTheChunkBoundary(long offset, int chunkSize, int pieceSize, int expected)
        => Assert.Equal(expected, FileWriter.PieceCapacity(offset, chunkSize, pieceSize));

    [Fact]
    public async Task Write_SplitsIntoPiecesAtChunkBoundaries_AndEveryReplicaHoldsTheBytes()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", ChunkSize);
        var core = TestData.Core(cluster);
        var data = TestData.Random((2 * ChunkSize) + 12345, seed: 1);

        await using (var writer = new FileWriter(core, "/f", cluster.Id("/f"), ChunkSize, start: 0))
        {
            // Odd write sizes so that pieces are filled by several writes and writes straddle pieces.
            var rng = new Random(2);
            for (var at = 0; at < data.Length;)
            {
                var n = Math.Min(rng.Next(1, 50_000), data.Length - at);
                await writer.WriteAsync(data.AsMemory(at, n), TestContext.Current.CancellationToken);
                at += n;
            }

            await writer.FlushAsync(TestContext.Current.CancellationToken);
            Assert.Equal(data.Length, writer.Acknowledged);
        }

        Assert.Equal(3, cluster.ChunkCount("/f"));
        foreach (var server in cluster.Servers)
        {
            Assert.Equal(data, TestData.FileOn(cluster, "/f", server));
        }

        Assert.Equal(data.Length, cluster.Size("/f"));
        Assert.All(cluster.Writes, w => Assert.True(w.Length <= TestData.Piece && w.Offset + w.Length <= ChunkSize));
        foreach (var chunk in cluster.Writes.GroupBy(w => w.Handle))
        {
            // Commits of one chunk in offset order, contiguous from 0.
            long expected = 0;
            foreach (var write in chunk)
            {
                Assert.Equal(expected, write.Offset);
                expected += write.Length;
            }
        }

        // Only a piece starting a chunk allocates, and the first lease of a chunk is reused for its other pieces.
        Assert.Equal([0, 1, 2], cluster.LeaseCalls.Select(c => c.Index));
        Assert.All(cluster.LeaseCalls, c => Assert.True(c.Allocate));
    }

    [Theory]
    [InlineData(ChunkRoutes.MaxInlineBytes, 0, 1)]
    [InlineData(ChunkRoutes.MaxInlineBytes + 1, 1, 0)]
    public async Task A_small_piece_travels_inline_with_the_write_a_large_one_is_pushed_down_the_chain(int size, int pushes, int inlineWrites)
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", 1 << 20);
        var data = TestData.Random(size, seed: 9);
        var core = TestData.Core(cluster, TestData.Options() with { PieceSize = 1 << 20, InlineBytes = ChunkRoutes.MaxInlineBytes });
        await using (var writer = new FileWriter(core, "/f", cluster.Id("/f"), 1 << 20, 0))
        {
            await writer.WriteAsync(data, TestContext.Current.CancellationToken);
        }

        Assert.Equal(pushes, cluster.PushTargets.Count);
        Assert.All(cluster.PushTargets, p => Assert.Equal(2, p.Chain));
        Assert.Equal(inlineWrites, cluster.InlineWrites);
        foreach (var server in cluster.Servers.Take(3))
        {
            Assert.Equal(data, TestData.FileOn(cluster, "/f", server));
        }
    }

    [Fact]
    public async Task Create_BringsTheFirstChunksLease_SoASmallFileIsOneCreateOneInlineWriteAndOneSetLength()
    {
        var cluster = new FakeCluster();
        using var client = new GfsClient(TestData.Options() with { InlineBytes = ChunkRoutes.MaxInlineBytes }, cluster);
        var data = TestData.Random(4096, seed: 5);
        await using (var stream = await client.CreateAsync("/small", new GfsCreateOptions { ChunkSize = ChunkSize }, TestContext.Current.CancellationToken))
        {
            await stream.WriteAsync(data, TestContext.Current.CancellationToken);
        }

        Assert.Equal(["/small"], cluster.CreateCalls);
        Assert.Single(cluster.LeaseCalls); // the one the create made; the write asked for none
        Assert.Empty(cluster.PushTargets);
        Assert.Equal(1, cluster.InlineWrites);
        Assert.Equal([("/small", 4096L)], cluster.SetLengthCalls);
        foreach (var server in cluster.Servers)
        {
            Assert.Equal(data, TestData.FileOn(cluster, "/small", server));
        }

        await Assert.ThrowsAsync<GfsException>(() => client.CreateAsync("/small", new GfsCreateOptions { ChunkSize = ChunkSize }, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Write_WhenASecondaryMissesThePush_ReleasesWithoutItAndRetriesTheSameBytes()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", ChunkSize);
        var failures = 1;
        cluster.Fault = (route, server) => route == ChunkRoutes.Push && server.Id == "cs2" && Interlocked.Decrement(ref failures) >= 0
            ? new GfsException(ErrorCode.Unavailable, "down")
            : null;
        var data = TestData.Random(100_000, seed: 3);

        await using (var writer = new FileWriter(TestData.Core(cluster), "/f", cluster.Id("/f"), ChunkSize, 0))
        {
            await writer.WriteAsync(data, TestContext.Current.CancellationToken);
        }

        var chunk = cluster.Chunk("/f", 0);
        Assert.Equal(["cs0", "cs1"], chunk.Replicas.Select(s => s.Id));
        Assert.Equal(2, chunk.Version);
        Assert.Contains(cluster.LeaseCalls, c => c.Failed.SequenceEqual(["cs2"]));
        Assert.Equal(data, TestData.FileOn(cluster, "/f", cluster.Servers[0]));
        Assert.Equal(data, TestData.FileOn(cluster, "/f", cluster.Servers[1]));
    }

    [Fact]
    public async Task Write_WhenTheCommitReportsAFailedSecondary_IsNotAcknowledgedUntilRetriedWithoutIt()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", ChunkSize);
        cluster.FailApply.Add("cs1");
        var data = TestData.Random(10_000, seed: 4);

        await using (var writer = new FileWriter(TestData.Core(cluster), "/f", cluster.Id("/f"), ChunkSize, 0))
        {
            await writer.WriteAsync(data, TestContext.Current.CancellationToken);
            await writer.FlushAsync(TestContext.Current.CancellationToken);
            Assert.Equal(data.Length, writer.Acknowledged);
        }

        Assert.Equal(["cs0", "cs2"], cluster.Chunk("/f", 0).Replicas.Select(s => s.Id));
        Assert.Equal(2, cluster.Writes.Count);
        Assert.Equal(data, TestData.FileOn(cluster, "/f", cluster.Servers[2]));
    }

    [Fact]
    public async Task Write_WhenThePrimaryIsUnreachable_LeasesANewPrimaryWithoutIt()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", ChunkSize);
        cluster.Fault = (route, server) => route == ChunkRoutes.Write && server.Id == "cs0" ? new GfsException(ErrorCode.Unavailable, "connection refused") : null;
        var data = TestData.Random(70_000, seed: 5);

        await using (var writer = new FileWriter(TestData.Core(cluster), "/f", cluster.Id("/f"), ChunkSize, 0))
        {
            await writer.WriteAsync(data, TestContext.Current.CancellationToken);
        }

        var chunk = cluster.Chunk("/f", 0);
        Assert.Equal("cs1", chunk.Primary!.Id);
        Assert.DoesNotContain(chunk.Replicas, s => s.Id == "cs0");
        Assert.Equal(data, TestData.FileOn(cluster, "/f", cluster.Servers[1]));
        Assert.Equal(data.Length, cluster.Size("/f"));
    }

    [Fact]
    public async Task Write_AfterAFatalError_ThrowsOnEveryLaterCall()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", ChunkSize);
        cluster.Fault = (route, _) => route == ChunkRoutes.Write ? new GfsException(ErrorCode.NoSpace, "disk full") : null;
        var writer = new FileWriter(TestData.Core(cluster), "/f", cluster.Id("/f"), ChunkSize, 0);

        await writer.WriteAsync(new byte[100], TestContext.Current.CancellationToken);
        var flush = await Assert.ThrowsAsync<GfsException>(() => writer.FlushAsync(TestContext.Current.CancellationToken));
        Assert.Equal(ErrorCode.NoSpace, flush.Code);
        var later = await Assert.ThrowsAsync<GfsException>(async () => await writer.WriteAsync(new byte[1], TestContext.Current.CancellationToken));
        Assert.Equal(ErrorCode.NoSpace, later.Code);
        Assert.Equal(0, writer.Acknowledged);
        await writer.DisposeAsync(); // the caller has seen the error: dispose does not throw it again
        Assert.Equal(0, cluster.Size("/f"));
    }

    [Fact]
    public async Task Write_WhenEveryAttemptFails_GivesUpWithATypedErrorAfterTheOperationTimeout()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", ChunkSize);
        cluster.Fault = (route, _) => route == ChunkRoutes.Write ? new GfsException(ErrorCode.LeaseExpired, "no lease") : null;
        var options = TestData.Options() with { OperationTimeout = TimeSpan.FromSeconds(1) }; // a loaded CI machine still fits several attempts
        var writer = new FileWriter(TestData.Core(cluster, options), "/f", cluster.Id("/f"), ChunkSize, 0);

        await writer.WriteAsync(new byte[100], TestContext.Current.CancellationToken);
        var error = await Assert.ThrowsAsync<GfsException>(() => writer.DisposeAsync().AsTask());
        Assert.Equal(ErrorCode.Unavailable, error.Code);
        Assert.Contains("gave up", error.Message, StringComparison.Ordinal);
        Assert.True(cluster.LeaseCalls.Count > 1, $"the writer re-leased between attempts ({cluster.LeaseCalls.Count} lease calls)");
    }

    [Fact]
    public async Task Write_WhenThePrimaryIsUnreachableUntilItsLeaseEnds_WithDefaultOptions_SucceedsOnTheNewPrimary()
    {
        var time = new FakeTimeProvider();
        var cluster = new FakeCluster { Time = time };
        cluster.CreateFile("/f", ChunkSize);
        var options = new GfsClientOptions { Masters = [new Uri("http://127.0.0.1:1/")], ClientHost = "test", Time = time };
        var core = TestData.Core(cluster, options);
        var first = TestData.Random(1000, seed: 8);
        var second = TestData.Random(2000, seed: 9);
        var writer = new FileWriter(core, "/f", cluster.Id("/f"), ChunkSize, 0);
        await writer.WriteAsync(first, TestContext.Current.CancellationToken);
        await writer.FlushAsync(TestContext.Current.CancellationToken);
        var leaseEnd = cluster.Chunk("/f", 0).LeaseEnd;
        Assert.Equal("cs0", cluster.Chunk("/f", 0).Primary!.Id);

        // cs0 stops answering 5 s into its 60 s lease; the leader names no other primary before the lease ends.
        time.Advance(TimeSpan.FromSeconds(5));
        cluster.Fault = (route, server) => server.Id == "cs0" && time.GetUtcNow() < leaseEnd ? new GfsException(ErrorCode.Unavailable, "connection timed out") : null;
        await writer.WriteAsync(second, TestContext.Current.CancellationToken);
        var flushed = writer.FlushAsync(TestContext.Current.CancellationToken);
        while (!flushed.IsCompleted)
        {
            time.Advance(TimeSpan.FromMilliseconds(50)); // the clock moves on while the writer retries
            await Task.Delay(1, TestContext.Current.CancellationToken);
        }

        await flushed;
        await writer.DisposeAsync();
        Assert.True(time.GetUtcNow() >= leaseEnd, "the new primary was named after the old lease ended");
        Assert.Equal("cs1", cluster.Chunk("/f", 0).Primary!.Id);
        Assert.Equal(first.Concat(second).ToArray(), TestData.FileOn(cluster, "/f", cluster.Servers[1]));
        Assert.Equal(first.Length + second.Length, cluster.Size("/f"));
    }

    [Fact]
    public async Task Write_ToAReplacedFile_FailsWithFileReplaced_AndALeaseOfTheOldFileIsNeverHandedToAWriterOfTheNewOne()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", ChunkSize);
        var core = TestData.Core(cluster);
        var old = new FileWriter(core, "/f", cluster.Id("/f"), ChunkSize, 0);
        await old.WriteAsync(TestData.Random(1000, seed: 30), TestContext.Current.CancellationToken);
        await old.FlushAsync(TestContext.Current.CancellationToken); // the lease of the old file's chunk 0 is cached

        cluster.Replace("/f");
        var mine = TestData.Random(500, seed: 31);
        await using (var writer = new FileWriter(core, "/f", cluster.Id("/f"), ChunkSize, 0))
        {
            await writer.WriteAsync(mine, TestContext.Current.CancellationToken);
        }

        Assert.Equal(mine, TestData.FileOn(cluster, "/f", cluster.Servers[0]));
        Assert.Equal(mine.Length, cluster.Size("/f"));

        // The old writer's bytes go to the chunk its lease names (the deleted file's); its length report is refused.
        await old.WriteAsync(TestData.Random(100, seed: 32), TestContext.Current.CancellationToken);
        var setLength = await Assert.ThrowsAsync<GfsException>(() => old.FlushAsync(TestContext.Current.CancellationToken));
        Assert.Equal(ErrorCode.FileReplaced, setLength.Code);
        Assert.Equal(1100, old.Acknowledged);

        // Past its chunk it needs a new lease (an allocation): refused, nothing allocated in the new file.
        await old.WriteAsync(TestData.Random(ChunkSize, seed: 33), TestContext.Current.CancellationToken);
        var lease = await Assert.ThrowsAsync<GfsException>(() => old.FlushAsync(TestContext.Current.CancellationToken));
        Assert.Equal(ErrorCode.FileReplaced, lease.Code);
        await old.DisposeAsync();
        await core.DrainAsync();
        Assert.Equal(1, cluster.ChunkCount("/f"));
        Assert.Equal(mine, TestData.FileOn(cluster, "/f", cluster.Servers[0]));
        Assert.Equal(mine.Length, cluster.Size("/f"));
    }

    [Fact]
    public async Task OpenWrite_InTheMiddleOfAChunk_ContinuesAtTheEnd()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", ChunkSize);
        var core = TestData.Core(cluster);
        var first = TestData.Random(ChunkSize + 1000, seed: 6);
        var second = TestData.Random(ChunkSize, seed: 7);
        await using (var writer = new FileWriter(core, "/f", cluster.Id("/f"), ChunkSize, 0))
        {
            await writer.WriteAsync(first, TestContext.Current.CancellationToken);
        }

        var (attributes, length) = await FileReader.MeasureAsync(core, "/f", TestContext.Current.CancellationToken);
        Assert.Equal(first.Length, length);
        await using (var writer = new FileWriter(core, "/f", cluster.Id("/f"), attributes.ChunkSize, length))
        {
            await writer.WriteAsync(second, TestContext.Current.CancellationToken);
        }

        Assert.Equal(first.Concat(second).ToArray(), TestData.FileOn(cluster, "/f", cluster.Servers[2]));
        Assert.Equal(first.Length + second.Length, cluster.Size("/f"));
    }
}
