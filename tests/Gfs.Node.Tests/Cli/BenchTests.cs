using Gfs.Node.Cli.Bench;
using Gfs.Node.Cli.Client;

namespace Gfs.Node.Tests.Cli;

/// <summary>gfs bench's figures and output shapes, run against the in-memory file system with tiny sizes.</summary>
public sealed class BenchTests
{
    private static readonly string[] Names =
    [
        "seq_write_mbps", "seq_read_cold_mbps", "parallel4_write_mbps", "create_1client_per_s", "create_16clients_per_s",
        "stat_16clients_per_s", "delete_16clients_per_s", "mkdir_per_s", "append_4clients_mbps",
    ];

    [Fact]
    public async Task OneRun_MeasuresEveryFigure_AndLeavesNothingBehind()
    {
        var fs = new FakeFileSystem();
        var runner = new BenchRunner(() => fs, new BenchSettings(8L << 20, 40, DropCaches: false), TextWriter.Null);

        var results = await runner.RunOnceAsync("/bench", CancellationToken.None);

        Assert.Equal(Names, results.Select(r => r.Name));
        Assert.All(results, r => Assert.True(r.Value > 0, r.Name));
        Assert.All(results, r => Assert.Equal(r.Name.EndsWith("_mbps", StringComparison.Ordinal) ? "MB/s" : "ops/s", r.Unit));
        Assert.False(fs.Exists("/bench"));
        Assert.False(runner.LastReadWasCold);
    }

    [Fact]
    public async Task Appenders_WriteWholeRecords_FromFourClients()
    {
        var fs = new FakeFileSystem();
        var runner = new BenchRunner(() => fs, new BenchSettings(16L << 20, 1, DropCaches: false), TextWriter.Null);

        await runner.RunOnceAsync("/bench", CancellationToken.None);

        Assert.Equal(16, fs.AppendedLengths.Count);
        Assert.All(fs.AppendedLengths, length => Assert.Equal(BenchRunner.AppendRecordSize, length));
    }

    [Theory]
    [InlineData(1L << 30, 10_000, 128L << 20, 1000)]
    [InlineData(100L << 20, 500, 64L << 20, 200)]
    [InlineData(8L << 20, 40, 8L << 20, 40)]
    public void Warmup_IsASmallerPassWithoutBaselineOrCacheDrop(long size, int files, long warmSize, int warmFiles)
    {
        var warm = BenchRunner.WarmupSettings(new BenchSettings(size, files, DropCaches: true, BaselineDirectory: "/tmp"));

        Assert.Equal(new BenchSettings(warmSize, warmFiles, DropCaches: false, BaselineDirectory: null), warm);
    }

    [Fact]
    public void Json_IsExactlyTheResultsArray()
    {
        var writer = new StringWriter();

        CliJson.Write(writer, new BenchJson([new BenchResultJson("seq_write_mbps", "MB/s", 412.5)]));

        Assert.Equal("""{"results":[{"name":"seq_write_mbps","unit":"MB/s","value":412.5}]}""", writer.ToString().Trim());
    }

    [Fact]
    public void Median_OfSeveralRuns_IsPerFigure()
    {
        IReadOnlyList<BenchResultJson> Run(double a, double b) => [new("x", "MB/s", a), new("y", "ops/s", b)];

        var median = BenchRunner.Median([Run(1, 40), Run(3, 10), Run(2, 20), Run(10, 30)]);

        Assert.Equal([("x", 2.5), ("y", 25.0)], median.Select(r => (r.Name, r.Value)));
    }

    [Fact]
    public void Table_SaysWhenTheReadWasWarm_AndShowsTheSpreadOverRuns()
    {
        IReadOnlyList<BenchResultJson> run1 = [new("seq_read_cold_mbps", "MB/s", 100)];
        IReadOnlyList<BenchResultJson> run2 = [new("seq_read_cold_mbps", "MB/s", 300)];

        var lines = BenchCommand.Table(BenchRunner.Median([run1, run2]), [run1, run2], cold: false);

        Assert.Equal(2, lines.Count);
        Assert.Contains("200.0", lines[1], StringComparison.Ordinal);
        Assert.Contains("100.0–300.0", lines[1], StringComparison.Ordinal);
        Assert.Contains("warm", lines[1], StringComparison.Ordinal);
    }
}
