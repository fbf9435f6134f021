using System.Text;
using Gfs.Client.Data;
using Gfs.Client.Protocol;
using Microsoft.Extensions.Time.Testing;

namespace Gfs.Client.Tests.Data;

public sealed class CacheAndRetryTests
{
    [Fact]
    public void Crc32C_MatchesTheCastagnoliCheckValue()
        => Assert.Equal(0xE3069283u, ClientCore.Crc32C(Encoding.ASCII.GetBytes("123456789")));

    [Fact]
    public void Backoff_DoublesUpToTheCap_WithJitterBetweenHalfAndOneAndAHalfSteps()
    {
        var samples = new Queue<double>([0.0, 0.5, 0.999, 0.5, 0.5]);
        var backoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(300), () => samples.Dequeue());

        Assert.Equal(50, backoff.Next().TotalMilliseconds, 1);   // 100 × 0.5
        Assert.Equal(200, backoff.Next().TotalMilliseconds, 1);  // 200 × 1.0
        Assert.Equal(449.7, backoff.Next().TotalMilliseconds, 1); // 300 (capped) × 1.499
        Assert.Equal(300, backoff.Next().TotalMilliseconds, 1);
        Assert.Equal(300, backoff.Next().TotalMilliseconds, 1);
    }

    [Theory]
    [InlineData(ErrorCode.StaleVersion, (int)FailureAction.Release)]
    [InlineData(ErrorCode.LeaseExpired, (int)FailureAction.Release)]
    [InlineData(ErrorCode.Unavailable, (int)FailureAction.ReleaseWithout)]
    [InlineData(ErrorCode.DeadlineExceeded, (int)FailureAction.ReleaseWithout)]
    [InlineData(ErrorCode.ChecksumMismatch, (int)FailureAction.ReleaseWithout)]
    [InlineData(ErrorCode.DiskFailed, (int)FailureAction.ReleaseWithout)]
    [InlineData(ErrorCode.NoSpace, (int)FailureAction.Fail)]
    [InlineData(ErrorCode.InvalidArgument, (int)FailureAction.Fail)]
    [InlineData(ErrorCode.PermissionDenied, (int)FailureAction.Fail)]
    public void ChunkserverErrors_AreClassified(ErrorCode code, int expected)
        => Assert.Equal((FailureAction)expected, Retry.OnChunkserverError(new GfsException(code, "x")));

    [Fact]
    public async Task Locations_AreCachedForTheTtl_ThenFetchedAgain()
    {
        var time = new FakeTimeProvider();
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", 64 * 1024);
        await cluster.LeaseChunkAsync("/f", cluster.Id("/f"), 0, true, [], TestContext.Current.CancellationToken);
        var cache = new LocationCache(cluster, TestData.Options(time) with { LocationCacheTtl = TimeSpan.FromSeconds(30) });

        var first = await cache.GetChunkAsync("/f", 0, TestContext.Current.CancellationToken);
        time.Advance(TimeSpan.FromSeconds(29));
        var second = await cache.GetChunkAsync("/f", 0, TestContext.Current.CancellationToken);
        Assert.Same(first, second);
        Assert.Equal(1, cluster.GetChunksCalls);

        time.Advance(TimeSpan.FromSeconds(2));
        await cache.GetChunkAsync("/f", 0, TestContext.Current.CancellationToken);
        Assert.Equal(2, cluster.GetChunksCalls);

        cache.InvalidateChunk("/f", 0);
        await cache.GetChunkAsync("/f", 0, TestContext.Current.CancellationToken);
        Assert.Equal(3, cluster.GetChunksCalls);

        Assert.Null(await cache.GetChunkAsync("/f", 1, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ALeaseReply_ReplacesTheCachedLocationWithTheCurrentVersion()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", 64 * 1024);
        var core = TestData.Core(cluster);
        await core.Leases.GetAsync("/f", cluster.Id("/f"), 0, allocate: true, TestContext.Current.CancellationToken);
        var before = await core.Locations.GetChunkAsync("/f", 0, TestContext.Current.CancellationToken);

        var lease = await core.Leases.RenewAsync("/f", cluster.Id("/f"), 0, false, core.Leases.Peek("/f", cluster.Id("/f"), 0), ["cs1"], TestContext.Current.CancellationToken);
        var after = await core.Locations.GetChunkAsync("/f", 0, TestContext.Current.CancellationToken);

        Assert.Equal(1, before!.Version);
        Assert.Equal(2, lease.Version);
        Assert.Equal(2, after!.Version);
        Assert.DoesNotContain(after.Replicas, r => r.ServerId == "cs1");
        Assert.Equal(0, cluster.GetChunksCalls); // the lease filled the cache
    }

    [Fact]
    public async Task Leases_AreSharedAndReused_UntilNearTheirEnd()
    {
        var time = new FakeTimeProvider();
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", 64 * 1024);
        var core = TestData.Core(cluster, TestData.Options(time) with { LeaseRenewMargin = TimeSpan.FromSeconds(5) });

        var leases = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => core.Leases.GetAsync("/f", cluster.Id("/f"), 0, true, TestContext.Current.CancellationToken)));
        Assert.Single(leases.Distinct());
        Assert.Single(cluster.LeaseCalls);

        time.Advance(TimeSpan.FromSeconds(54)); // the fake grants 60 s
        Assert.Same(leases[0], await core.Leases.GetAsync("/f", cluster.Id("/f"), 0, true, TestContext.Current.CancellationToken));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.NotSame(leases[0], await core.Leases.GetAsync("/f", cluster.Id("/f"), 0, true, TestContext.Current.CancellationToken));
        Assert.Equal(2, cluster.LeaseCalls.Count);
    }

    [Fact]
    public async Task Sweeps_ForgetStaleLocations_EndedLeases_AndSentLengths_EveryCacheTtl()
    {
        var time = new FakeTimeProvider();
        var cluster = new FakeCluster();
        var ct = TestContext.Current.CancellationToken;
        for (var i = 0; i < 50; i++)
        {
            cluster.CreateFile($"/f{i}", 64 * 1024);
        }

        var core = TestData.Core(cluster, TestData.Options(time) with { LocationCacheTtl = TimeSpan.FromSeconds(30), LeaseRenewMargin = TimeSpan.FromSeconds(5) });
        for (var i = 0; i < 50; i++)
        {
            await core.Leases.GetAsync($"/f{i}", cluster.Id($"/f{i}"), 0, true, ct);
            await core.Locations.GetAttributesAsync($"/f{i}", ct);
            core.Lengths.Report($"/f{i}", cluster.Id($"/f{i}"), 100);
        }

        await core.Lengths.DrainAsync();
        Assert.Equal((50, 50, 50), (core.Locations.Count, core.Leases.Count, core.Lengths.Count));

        // Fresh entries survive a sweep; the length entries, all sent, do not.
        Assert.Equal((0, 0, 50), core.Sweep());

        // One file stays in use; the timer's sweep after the TTL drops the rest.
        time.Advance(TimeSpan.FromSeconds(20));
        core.Locations.Invalidate("/f7");
        await core.Locations.GetChunkAsync("/f7", 0, ct); // fetched again at 20 s
        time.Advance(TimeSpan.FromSeconds(11)); // 31 s: the timer fires once
        Assert.Equal(1, core.Locations.Count);
        var fetches = cluster.GetChunksCalls;
        await core.Locations.GetChunkAsync("/f7", 0, ct);
        Assert.Equal(fetches, cluster.GetChunksCalls); // the one kept is /f7, still cached
        Assert.Equal(50, core.Leases.Count); // leases granted for 60 s are still usable

        time.Advance(TimeSpan.FromSeconds(30)); // 61 s: every lease has ended
        Assert.Equal((0, 0), (core.Leases.Count, core.Locations.Count));

        // A length reported after its path was swept is still sent.
        core.Lengths.Report("/f3", cluster.Id("/f3"), 200);
        await core.Lengths.DrainAsync();
        Assert.Equal(200, cluster.Size("/f3"));
        core.Stop();
    }

    [Fact]
    public async Task ARenewalWithoutFailedServers_SharesALeaseAnotherCallerAlreadyRenewed()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", 64 * 1024);
        var core = TestData.Core(cluster);
        var stale = await core.Leases.GetAsync("/f", cluster.Id("/f"), 0, true, TestContext.Current.CancellationToken);

        var renewed = await core.Leases.RenewAsync("/f", cluster.Id("/f"), 0, true, stale, [], TestContext.Current.CancellationToken);
        var again = await core.Leases.RenewAsync("/f", cluster.Id("/f"), 0, true, stale, [], TestContext.Current.CancellationToken);
        var withFailed = await core.Leases.RenewAsync("/f", cluster.Id("/f"), 0, true, stale, ["cs2"], TestContext.Current.CancellationToken);

        Assert.NotSame(stale, renewed);
        Assert.Same(renewed, again);
        Assert.NotSame(renewed, withFailed);
        Assert.Equal(3, cluster.LeaseCalls.Count);
    }

    [Fact]
    public async Task LengthReports_AreCoalesced_OneInFlightPerPath_LatestEndWins()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", 64 * 1024);
        cluster.SetLengthGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reporter = new LengthReporter(cluster, TestData.Options());

        reporter.Report("/f", cluster.Id("/f"), 10);
        await TestRetry.UntilAsync(() => cluster.SetLengthEntered == 1); // the first report is in flight, blocked
        for (var end = 11; end <= 1000; end++)
        {
            reporter.Report("/f", cluster.Id("/f"), end);
        }

        reporter.Report("/f", cluster.Id("/f"), 500); // lower: ignored
        cluster.SetLengthGate.SetResult();
        await reporter.DrainAsync();

        Assert.Equal([10L, 1000L], cluster.SetLengthCalls.Select(c => c.Size));
        Assert.Equal(1000, cluster.Size("/f"));
    }
}
