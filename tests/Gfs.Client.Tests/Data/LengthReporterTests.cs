using Gfs.Client.Data;
using Gfs.Client.Protocol;
using Microsoft.Extensions.Time.Testing;

namespace Gfs.Client.Tests.Data;

public sealed class LengthReporterTests
{
    private static LengthReporter Reporter(FakeCluster cluster, TimeProvider? time = null) => new(cluster, TestData.Options(time));

    [Fact]
    public async Task Report_WhenTheFirstSetLengthCallsFailWithUnavailable_RetriesUntilTheLengthArrives()
    {
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", 64 * 1024);
        cluster.SetLengthFault = call => call <= 3 ? new GfsException(ErrorCode.Unavailable, "no leader yet") : null;
        var reporter = Reporter(cluster);

        reporter.Report("/f", cluster.Id("/f"), 1000);
        await reporter.DrainAsync();

        Assert.Equal(1000, cluster.Size("/f"));
        Assert.Equal([1000L], cluster.SetLengthCalls.Select(c => c.Size));
    }

    [Fact]
    public async Task Report_WhenTheFileIsGone_GivesUpAfterOneCall()
    {
        var cluster = new FakeCluster();
        var reporter = Reporter(cluster);

        reporter.Report("/gone", 7, 1000);
        await reporter.DrainAsync();

        Assert.Equal(1, cluster.SetLengthEntered);
        Assert.Equal(ErrorCode.NotFound, Assert.IsType<GfsException>(reporter.LastError).Code);
    }

    [Fact]
    public async Task Drain_WhileAReportKeepsFailing_ReturnsFalseAtItsBound_AndStopEndsTheRetries()
    {
        var time = new FakeTimeProvider();
        var cluster = new FakeCluster();
        cluster.CreateFile("/f", 64 * 1024);
        cluster.SetLengthFault = _ => new GfsException(ErrorCode.Unavailable, "no leader");
        var reporter = Reporter(cluster, time);
        reporter.Report("/f", cluster.Id("/f"), 1000);
        await TestRetry.UntilAsync(() => cluster.SetLengthEntered >= 1);

        var drain = reporter.DrainAsync();
        Assert.False(drain.IsCompleted);
        time.Advance(TestData.Options().OperationTimeout + TimeSpan.FromSeconds(1));
        Assert.False(await drain);

        reporter.Stop();
        Assert.True(await reporter.DrainAsync()); // nothing retries any more
        Assert.Equal(0, cluster.Size("/f"));
    }
}
