using Gfs.Client.Data;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;

namespace Gfs.Client.Tests.Data;

public sealed class FileReaderTests
{
    private const int ChunkSize = 256 * 1024;

    private static async Task<(FakeCluster Cluster, ClientCore Core, byte[] Data)> FileAsync(int length, int seed = 10)
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", ChunkSize);
        var core = TestData.Core(cluster);
        var data = TestData.Random(length, seed);
        await using (var writer = new FileWriter(core, "/f", cluster.Id("/f"), ChunkSize, 0))
        {
            await writer.WriteAsync(data, TestContext.Current.CancellationToken);
        }

        return (cluster, core, data);
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream, int bufferSize)
    {
        var all = new MemoryStream();
        var buffer = new byte[bufferSize];
        int n;
        while ((n = await stream.ReadAsync(buffer, TestContext.Current.CancellationToken)) > 0)
        {
            all.Write(buffer, 0, n);
        }

        return all.ToArray();
    }

    [Fact]
    public async Task Read_Sequentially_ReturnsTheBytes_InPiecesThatNeverCrossAChunk()
    {
        var (cluster, core, data) = await FileAsync((3 * ChunkSize) + 777);
        await using var reader = await FileReader.OpenAsync(core, "/f", TestContext.Current.CancellationToken);

        Assert.Equal(data.Length, reader.Length);
        Assert.Equal(data, await ReadAllAsync(reader, 10_000));
        Assert.All(cluster.Reads, r => Assert.True(r.Length <= TestData.Piece && r.Offset + r.Length <= ChunkSize));
        Assert.Equal(cluster.Reads.Count, cluster.Reads.Distinct().Count()); // every piece downloaded once
        Assert.All(cluster.Reads, r => Assert.Equal("cs0", r.Server)); // the nearest replica
    }

    [Fact]
    public async Task Read_WhenSequential_PrefetchesReadAheadPieces_AndSeekDropsThem()
    {
        var (_, core, data) = await FileAsync(2 * ChunkSize);
        await using var reader = await FileReader.OpenAsync(core, "/f", TestContext.Current.CancellationToken);
        var buffer = new byte[100];

        await reader.ReadExactlyAsync(buffer, TestContext.Current.CancellationToken);
        Assert.Equal([0L, TestData.Piece, 2L * TestData.Piece], reader.PieceStarts.Order());

        reader.Seek(ChunkSize + 5000, SeekOrigin.Begin);
        Assert.Empty(reader.PieceStarts);
        await reader.ReadExactlyAsync(buffer, TestContext.Current.CancellationToken);
        Assert.Equal(data.AsSpan(ChunkSize + 5000, 100).ToArray(), buffer);
        Assert.Equal([(long)ChunkSize], reader.PieceStarts); // a seek is not sequential: no read-ahead

        await reader.ReadExactlyAsync(buffer, TestContext.Current.CancellationToken);
        Assert.Equal(3, reader.PieceStarts.Count); // sequential again
        Assert.Equal(data.AsSpan(ChunkSize + 5100, 100).ToArray(), buffer);
    }

    [Fact]
    public async Task Read_AtRandomPositions_MatchesTheFile()
    {
        var (_, core, data) = await FileAsync((2 * ChunkSize) + 999);
        await using var reader = await FileReader.OpenAsync(core, "/f", TestContext.Current.CancellationToken);
        var rng = new Random(11);
        for (var i = 0; i < 50; i++)
        {
            var at = rng.Next(data.Length);
            var want = Math.Min(rng.Next(1, 200_000), data.Length - at);
            reader.Position = at;
            var got = new byte[want];
            await reader.ReadExactlyAsync(got, TestContext.Current.CancellationToken);
            Assert.Equal(data.AsSpan(at, want).ToArray(), got);
        }

        reader.Seek(0, SeekOrigin.End);
        Assert.Equal(0, await reader.ReadAsync(new byte[10], TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Read_WhenTheNearestReplicaIsCorrupt_ReportsItAndReadsTheNext()
    {
        var (cluster, core, data) = await FileAsync(50_000);
        var handle = cluster.Chunk("/f", 0).Handle;
        cluster.Servers[0].Replicas[handle].Corrupt = true;
        await using var reader = await FileReader.OpenAsync(core, "/f", TestContext.Current.CancellationToken);

        Assert.Equal(data, await ReadAllAsync(reader, 64 * 1024));
        await core.DrainAsync();
        var report = Assert.Single(cluster.Reports);
        Assert.Equal(("cs0", ReplicaProblem.ChecksumMismatch, handle), (report.ServerId, report.Problem, report.Handle));
    }

    [Fact]
    public async Task Read_WhenEveryReplicaIsCorrupt_ThrowsChecksumMismatch()
    {
        var (cluster, core, _) = await FileAsync(50_000);
        foreach (var server in cluster.Servers)
        {
            server.Replicas[cluster.Chunk("/f", 0).Handle].Corrupt = true;
        }

        await using var reader = await FileReader.OpenAsync(core, "/f", TestContext.Current.CancellationToken);
        var error = await Assert.ThrowsAsync<GfsException>(async () => await reader.ReadExactlyAsync(new byte[10], TestContext.Current.CancellationToken));
        Assert.Equal(ErrorCode.ChecksumMismatch, error.Code);
    }

    [Fact]
    public async Task Read_WhenEveryReplicaIsUnreachable_ThrowsUnavailable_AndALaterReadTriesAgain()
    {
        var (cluster, core, data) = await FileAsync(50_000);
        var down = true;
        cluster.Fault = (route, _) => route == ChunkRoutes.Read && down ? new GfsException(ErrorCode.Unavailable, "refused") : null;
        await using var reader = await FileReader.OpenAsync(core, "/f", TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<GfsException>(async () => await reader.ReadExactlyAsync(new byte[10], TestContext.Current.CancellationToken));
        Assert.Equal(ErrorCode.Unavailable, error.Code);
        down = false;
        var buffer = new byte[10];
        await reader.ReadExactlyAsync(buffer, TestContext.Current.CancellationToken);
        Assert.Equal(data.AsSpan(0, 10).ToArray(), buffer);
    }

    [Fact]
    public async Task Read_WhenTheCachedVersionIsStale_RefreshesLocationsOnce()
    {
        var (cluster, core, data) = await FileAsync(50_000);
        await using var reader = await FileReader.OpenAsync(core, "/f", TestContext.Current.CancellationToken);

        // A new lease elsewhere raised the version on every replica after this reader cached the locations.
        await cluster.LeaseChunkAsync("/f", cluster.Id("/f"), 0, false, ["no-such-server"], TestContext.Current.CancellationToken);
        var fetches = cluster.GetChunksCalls;

        Assert.Equal(data, await ReadAllAsync(reader, 64 * 1024));
        Assert.Equal(fetches + 1, cluster.GetChunksCalls);
        await core.DrainAsync();
        Assert.Empty(cluster.Reports); // our cache was old, not the replica
    }

    [Fact]
    public async Task Read_OfAHoleInAChunkBeforeTheLast_ThrowsUnwritten_AndNeverReturnsZerosThatWereNotWritten()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", ChunkSize);
        var core = TestData.Core(cluster);
        var head = TestData.Random(1000, seed: 12);
        var tail = TestData.Random(2000, seed: 13);
        await using (var writer = new FileWriter(core, "/f", cluster.Id("/f"), ChunkSize, 0))
        {
            await writer.WriteAsync(head, TestContext.Current.CancellationToken);
        }

        // A writer that failed part-way left chunk 0 short; another wrote chunk 1.
        await using (var writer = new FileWriter(core, "/f", cluster.Id("/f"), ChunkSize, ChunkSize))
        {
            await writer.WriteAsync(tail, TestContext.Current.CancellationToken);
        }

        await using var reader = await FileReader.OpenAsync(core, "/f", TestContext.Current.CancellationToken);
        Assert.Equal(ChunkSize + tail.Length, reader.Length);
        var got = new byte[head.Length];
        await reader.ReadExactlyAsync(got, TestContext.Current.CancellationToken);
        Assert.Equal(head, got);

        var error = await Assert.ThrowsAsync<GfsException>(async () => await reader.ReadExactlyAsync(new byte[10], TestContext.Current.CancellationToken));
        Assert.Equal(ErrorCode.Unwritten, error.Code);
        Assert.Equal(head.Length, reader.Position);

        reader.Seek(ChunkSize, SeekOrigin.Begin);
        Assert.Equal(tail, await ReadAllAsync(reader, 100_000));
    }

    [Fact]
    public async Task Read_WhenTheNearestReplicaOfAChunkBeforeTheLastIsShort_ReadsTheRestFromAnotherReplica()
    {
        var (cluster, core, data) = await FileAsync(ChunkSize + 5000);
        var handle = cluster.Chunk("/f", 0).Handle;
        cluster.Servers[0].Replicas[handle].Length = ChunkSize - 10_000; // behind: the bytes after it are on the others
        Array.Clear(cluster.Servers[0].Replicas[handle].Data, ChunkSize - 10_000, 10_000);
        await using var reader = await FileReader.OpenAsync(core, "/f", TestContext.Current.CancellationToken);

        Assert.Equal(data.Length, reader.Length);
        Assert.Equal(data, await ReadAllAsync(reader, 64 * 1024));
    }

    [Fact]
    public async Task Open_WhileAWriterIsInAChunkAndHasAllocatedTheNext_SeesExactlyTheAcknowledgedBytes()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", ChunkSize);
        var core = TestData.Core(cluster);
        var data = TestData.Random(ChunkSize + TestData.Piece, seed: 15);
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        const long heldOffset = ChunkSize - TestData.Piece;
        cluster.WriteGate = request => request.Offset == heldOffset ? held.Task : Task.CompletedTask;
        var writer = new FileWriter(core, "/f", cluster.Id("/f"), ChunkSize, 0);

        // The last piece of chunk 0 is committing (held); the first piece of chunk 1 allocated chunk 1 and waits its turn.
        await writer.WriteAsync(data, TestContext.Current.CancellationToken);
        await TestRetry.UntilAsync(() => cluster.ChunkCount("/f") == 2 && writer.Acknowledged == heldOffset);
        Assert.Equal(0, cluster.Chunk("/f", 1).Replicas.Max(s => s.Replicas[cluster.Chunk("/f", 1).Handle].Length));

        await using (var reader = await FileReader.OpenAsync(core, "/f", TestContext.Current.CancellationToken))
        {
            Assert.Equal(heldOffset, reader.Length);
            Assert.Equal(data.AsSpan(0, (int)heldOffset).ToArray(), await ReadAllAsync(reader, 10_000));
        }

        held.SetResult();
        await writer.DisposeAsync();
        await using var after = await FileReader.OpenAsync(core, "/f", TestContext.Current.CancellationToken);
        Assert.Equal(data, await ReadAllAsync(after, 10_000));
    }

    [Theory]
    [InlineData(ErrorCode.Unavailable)]
    [InlineData(ErrorCode.DeadlineExceeded)]
    [InlineData(ErrorCode.Cancelled)]
    [InlineData(ErrorCode.InvalidArgument)]
    [InlineData(ErrorCode.StaleVersion)]
    [InlineData(ErrorCode.NotFound)]
    public async Task Read_WhenAReplicaFailsForAReasonThatIsNotAFaultOfItsCopy_ReadsTheNextWithoutReportingIt(ErrorCode code)
    {
        var (cluster, core, data) = await FileAsync(50_000);
        cluster.Fault = (route, server) => route == ChunkRoutes.Read && server.Id == "cs0" ? new GfsException(code, "not the copy's fault") : null;
        await using var reader = await FileReader.OpenAsync(core, "/f", TestContext.Current.CancellationToken);

        Assert.Equal(data, await ReadAllAsync(reader, 64 * 1024));
        Assert.Contains(cluster.Reads, r => r.Server != "cs0");
        await core.DrainAsync();
        Assert.Empty(cluster.Reports);
    }

    [Fact]
    public async Task Open_CountsBytesTheReplicasHold_BeyondTheLengthTheMasterKnows()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", ChunkSize);
        var core = TestData.Core(cluster);
        var data = TestData.Random(30_000, seed: 14);
        cluster.SetLengthGate = new TaskCompletionSource(); // the length report never arrives
        var writer = new FileWriter(core, "/f", cluster.Id("/f"), ChunkSize, 0);
        await writer.WriteAsync(data, TestContext.Current.CancellationToken);
        var flushing = writer.FlushAsync(TestContext.Current.CancellationToken);
        await TestRetry.UntilAsync(() => writer.Acknowledged == data.Length);

        Assert.Equal(0, cluster.Size("/f"));
        await using var reader = await FileReader.OpenAsync(core, "/f", TestContext.Current.CancellationToken);
        Assert.Equal(data.Length, reader.Length);
        Assert.Equal(data, await ReadAllAsync(reader, 8192));

        cluster.SetLengthGate.SetResult();
        await flushing;
        await writer.DisposeAsync();
    }
}

internal static class TestRetry
{
    public static async Task UntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 10 s");
            await Task.Delay(5, TestContext.Current.CancellationToken);
        }
    }
}
