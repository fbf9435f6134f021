using Gfs.Client.Protocol;
using Gfs.Node.Cli.Client;

namespace Gfs.Node.Tests.Cli;

/// <summary>Sizes, error lines and exit codes, progress rendering.</summary>
public sealed class FormattingTests
{
    [Theory]
    [InlineData(0L, "0 B")]
    [InlineData(1023L, "1023 B")]
    [InlineData(1024L, "1.0 KiB")]
    [InlineData(1536L, "1.5 KiB")]
    [InlineData(1048575L, "1.0 MiB")]
    [InlineData(64L << 20, "64.0 MiB")]
    [InlineData((1L << 30) + (1L << 29), "1.5 GiB")]
    [InlineData(5L << 40, "5.0 TiB")]
    public void Human_UsesBinaryUnitsWithOneDecimal(long bytes, string expected)
        => Assert.Equal(expected, Sizes.Human(bytes));

    [Theory]
    [InlineData("4096", 4096L)]
    [InlineData("4KiB", 4096L)]
    [InlineData("4k", 4096L)]
    [InlineData("64MiB", 64L << 20)]
    [InlineData("1GiB", 1L << 30)]
    [InlineData("1.5GiB", (1L << 30) + (1L << 29))]
    [InlineData("1GB", 1_000_000_000L)]
    [InlineData(" 2 TiB ", 2L << 40)]
    public void Parse_AcceptsBinaryAndDecimalSuffixes(string text, long expected)
    {
        Assert.True(Sizes.TryParse(text, out var bytes));
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("GiB")]
    [InlineData("12XB")]
    [InlineData("-5")]
    [InlineData("1.5")]
    [InlineData("99999999999TiB")]
    public void Parse_RefusesWhatIsNotASize(string text) => Assert.False(Sizes.TryParse(text, out _));

    [Theory]
    [InlineData(ErrorCode.NotFound, 3)]
    [InlineData(ErrorCode.AlreadyExists, 4)]
    [InlineData(ErrorCode.InvalidArgument, 2)]
    [InlineData(ErrorCode.PermissionDenied, 5)]
    [InlineData(ErrorCode.Unauthenticated, 5)]
    [InlineData(ErrorCode.Unavailable, 6)]
    [InlineData(ErrorCode.NotLeader, 6)]
    [InlineData(ErrorCode.DeadlineExceeded, 6)]
    [InlineData(ErrorCode.NoSpace, 7)]
    [InlineData(ErrorCode.QuotaExceeded, 7)]
    [InlineData(ErrorCode.NotADirectory, 8)]
    [InlineData(ErrorCode.IsADirectory, 8)]
    [InlineData(ErrorCode.DirectoryNotEmpty, 8)]
    [InlineData(ErrorCode.ChecksumMismatch, 9)]
    [InlineData(ErrorCode.Unwritten, 9)]
    [InlineData(ErrorCode.Internal, 1)]
    [InlineData(ErrorCode.Conflict, 1)]
    [InlineData(ErrorCode.FileReplaced, 1)]
    public void GfsErrors_MapToTheDocumentedExitCodes(ErrorCode code, int exitCode)
    {
        var (line, exit) = CliErrors.Describe(new GfsException(code, "it failed"), "/a/b", interrupted: false);

        Assert.Equal(exitCode, exit);
        Assert.Equal($"gfs: /a/b: it failed ({code})", line);
    }

    [Fact]
    public void ErrorLine_IsOneLine_AndOmitsAMissingPath()
    {
        var (line, exit) = CliErrors.Describe(new InvalidOperationException("first\nsecond"), null, interrupted: false);

        Assert.Equal("gfs: first second (Internal)", line);
        Assert.Equal(1, exit);
    }

    [Fact]
    public void LocalFileErrors_AreTyped()
    {
        Assert.Equal(3, CliErrors.Describe(new FileNotFoundException("gone", "/tmp/x"), "/r", false).ExitCode);
        Assert.Equal(5, CliErrors.Describe(new UnauthorizedAccessException("no"), "/r", false).ExitCode);
        Assert.Equal("gfs: ./local: no such local file (NotFound)", CliErrors.Describe(new CliException(ErrorCode.NotFound, "no such local file", "./local"), "/r", false).Line);
    }

    [Fact]
    public void Interruption_And_BrokenPipe_HaveShellCodes()
    {
        Assert.Equal(130, CliErrors.Describe(new OperationCanceledException(), "/r", interrupted: true).ExitCode);
        var (line, exit) = CliErrors.Describe(new IOException("Broken pipe"), "/r", interrupted: false);
        Assert.Null(line);
        Assert.Equal(141, exit);
    }

    [Fact]
    public void Bar_ShowsFractionSizesRateAndEta()
    {
        var line = TransferProgress.RenderBar("put /big", 512L << 20, 1L << 30, TimeSpan.FromSeconds(2));

        Assert.Equal("put /big [############------------]  50%  512.0 MiB / 1.0 GiB  268.4 MB/s  ETA 2s", line);
    }

    [Fact]
    public void Bar_WithoutATotal_ShowsBytesAndRate()
        => Assert.Equal("put /x  10.0 MiB  5.2 MB/s", TransferProgress.RenderBar("put /x", 10L << 20, null, TimeSpan.FromSeconds(2)));

    [Fact]
    public void Terminal_RedrawsInPlace_AfterAQuarterSecond_AndEndsTheLine()
    {
        var time = new ManualTime();
        var output = new StringWriter();
        var progress = new TransferProgress(output, terminal: true, time, "get /f", 100 << 20);

        progress.Report(1 << 20);
        Assert.Equal("", output.ToString());

        time.Advance(TimeSpan.FromMilliseconds(300));
        progress.Report(50 << 20);
        time.Advance(TimeSpan.FromMilliseconds(50));
        progress.Report(60 << 20);
        time.Advance(TimeSpan.FromMilliseconds(100));
        progress.Report(70 << 20);
        progress.Complete(100 << 20);

        var text = output.ToString();
        Assert.Equal(3, text.Count(c => c == '\r'));
        Assert.Contains(" 50%", text, StringComparison.Ordinal);
        Assert.DoesNotContain(" 60%", text, StringComparison.Ordinal);
        Assert.Contains(" 70%", text, StringComparison.Ordinal);
        Assert.EndsWith(Environment.NewLine, text, StringComparison.Ordinal);
        Assert.Contains("100%  100.0 MiB / 100.0 MiB", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Plain_PrintsNothingForAQuickTransfer()
    {
        var time = new ManualTime();
        var output = new StringWriter();
        var progress = new TransferProgress(output, terminal: false, time, "put /f", 4096);

        time.Advance(TimeSpan.FromSeconds(1));
        progress.Report(4096);
        progress.Complete(4096);

        Assert.Equal("", output.ToString());
    }

    [Fact]
    public void Plain_PrintsALineEveryTenSeconds_AndASummary_WithoutCarriageReturns()
    {
        var time = new ManualTime();
        var output = new StringWriter();
        var progress = new TransferProgress(output, terminal: false, time, "put /f", 1000_000_000);

        time.Advance(TimeSpan.FromSeconds(10));
        progress.Report(400_000_000);
        time.Advance(TimeSpan.FromSeconds(5));
        progress.Report(600_000_000);
        time.Advance(TimeSpan.FromSeconds(5));
        progress.Report(800_000_000);
        progress.Complete(1000_000_000);

        var lines = output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["put /f: 381.5 MiB of 953.7 MiB (40%), 40.0 MB/s", "put /f: 762.9 MiB of 953.7 MiB (80%), 40.0 MB/s", "put /f: done, 953.7 MiB in 20.0 s, 50.0 MB/s"], lines);
        Assert.DoesNotContain('\r', output.ToString());
    }
}
