using Gfs.Client.Protocol;
using Gfs.Node.Cli.Client;
using Gfs.Testing;

namespace Gfs.Node.Tests.Cli;

public sealed class MastersResolverTests : IDisposable
{
    private readonly TempDirectory home = new();
    private readonly Dictionary<string, string> environment = [];

    public void Dispose() => home.Dispose();

    [Fact]
    public void Flag_WinsOverEnvironmentAndConfigFile()
    {
        environment["GFS_MASTERS"] = "http://env:1";
        WriteDefaultConfig("""{"masters":["http://config:1"]}""");

        var (masters, source) = Resolve("http://flag:1,http://flag:2");

        Assert.Equal(["http://flag:1/", "http://flag:2/"], masters.Select(m => m.ToString()));
        Assert.Equal("--masters", source);
    }

    [Fact]
    public void Environment_WinsOverConfigFile()
    {
        environment["GFS_MASTERS"] = "http://env:1";
        WriteDefaultConfig("""{"masters":["http://config:1"]}""");

        var (masters, source) = Resolve(null);

        Assert.Equal("http://env:1/", Assert.Single(masters).ToString());
        Assert.Equal("GFS_MASTERS", source);
    }

    [Fact]
    public void ConfigFile_InTheHomeDirectory_IsUsedWhenNothingElseIsSet()
    {
        var path = WriteDefaultConfig("""{"masters":["http://config:1","http://config:2"]}""");

        var (masters, source) = Resolve(null);

        Assert.Equal(2, masters.Count);
        Assert.Equal(path, source);
    }

    [Fact]
    public void GfsConfig_NamesTheConfigFile()
    {
        WriteDefaultConfig("""{"masters":["http://default:1"]}""");
        var other = Path.Combine(home.Path, "other.json");
        File.WriteAllText(other, """{"masters":["http://other:1"]}""");
        environment["GFS_CONFIG"] = other;

        var (masters, _) = Resolve(null);

        Assert.Equal("http://other:1/", Assert.Single(masters).ToString());
    }

    [Fact]
    public void Nothing_Configured_IsAClearUsageError()
    {
        Assert.Null(MastersResolver.TryResolve(null, environment.GetValueOrDefault, home.Path));

        var error = Assert.Throws<CliException>(() => Resolve(null));

        Assert.Equal(ErrorCode.InvalidArgument, error.Code);
        Assert.Contains("--masters", error.Message, StringComparison.Ordinal);
        Assert.Contains("GFS_MASTERS", error.Message, StringComparison.Ordinal);
        Assert.Contains("config.json", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"masters":"http://a:1"}""")]
    [InlineData("""{"servers":["http://a:1"]}""")]
    [InlineData("""{"masters":["ftp://a:1"]}""")]
    [InlineData("""not json""")]
    public void MalformedConfigFile_IsReportedWithItsPath(string content)
    {
        var path = WriteDefaultConfig(content);

        var error = Assert.Throws<CliException>(() => Resolve(null));

        Assert.Equal(ErrorCode.InvalidArgument, error.Code);
        Assert.Contains(path, (error.Path ?? "") + error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GfsConfig_NamingAMissingFile_IsNotFound()
    {
        environment["GFS_CONFIG"] = Path.Combine(home.Path, "missing.json");

        Assert.Equal(ErrorCode.NotFound, Assert.Throws<CliException>(() => Resolve(null)).Code);
    }

    [Fact]
    public void BadUrl_InTheFlag_IsAUsageError()
        => Assert.Equal(ErrorCode.InvalidArgument, Assert.Throws<CliException>(() => Resolve("not-a-url")).Code);

    private (IReadOnlyList<Uri> Masters, string Source) Resolve(string? flag)
        => MastersResolver.Resolve(flag, environment.GetValueOrDefault, home.Path);

    private string WriteDefaultConfig(string content)
    {
        var path = MastersResolver.DefaultConfigPath(home.Path);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return path;
    }
}
