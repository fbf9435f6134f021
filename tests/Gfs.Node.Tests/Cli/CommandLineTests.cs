using Gfs.Testing;

namespace Gfs.Node.Tests.Cli;

/// <summary>The real gfs executable, run as a user runs it.</summary>
public sealed class CommandLineTests
{
    [Fact]
    public async Task Version_PrintsTheProductVersion_AndExitsZero()
    {
        var (exitCode, stdout, stderr) = await GfsProcess.RunAsync(["--version"]);

        Assert.Equal(0, exitCode);
        Assert.Matches(@"^\d+\.\d+\.\d+", stdout.Trim());
        Assert.Equal("", stderr);
    }

    [Fact]
    public async Task Help_DescribesGfs_AndExitsZero()
    {
        var (exitCode, stdout, _) = await GfsProcess.RunAsync(["--help"]);

        Assert.Equal(0, exitCode);
        Assert.Contains("Google File System", stdout, StringComparison.Ordinal);
        Assert.Contains("Usage:", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownCommand_FailsWithAMessageOnStderr()
    {
        var (exitCode, _, stderr) = await GfsProcess.RunAsync(["no-such-command"]);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("no-such-command", stderr, StringComparison.Ordinal);
    }
}
