using System.Text;
using System.Text.Json;
using Gfs.Client.Protocol.Chunk;
using Gfs.Testing;

namespace Gfs.Node.Tests.Cli;

/// <summary>The verbs, parsed and run in-process against an in-memory file system.</summary>
public sealed class VerbTests : IDisposable
{
    private readonly CliHarness cli = new();
    private readonly TempDirectory local = new();

    public void Dispose() => local.Dispose();

    [Fact]
    public async Task PutFromStdin_ThenCat_RoundTripsTheBytes()
    {
        var data = Encoding.UTF8.GetBytes("hello, gfs\n");
        cli.Stdin = data;

        Assert.Equal(0, await cli.RunAsync("put", "-", "/hello.txt"));
        Assert.Equal(0, await cli.RunAsync("cat", "/hello.txt"));

        Assert.Equal(data, cli.Stdout.ToArray());
        Assert.Equal("", cli.Error.ToString());
        Assert.All(cli.Connected, masters => Assert.Equal(["http://127.0.0.1:7100/", "http://127.0.0.1:7101/"], masters.Select(m => m.ToString())));
    }

    [Fact]
    public async Task Put_IntoADirectory_UsesTheLocalName_WithTheGivenReplicationAndChunkSize()
    {
        cli.Fs.AddDirectory("/in");
        var file = local.Combine("data.bin");
        var data = new byte[3 << 20];
        new Random(1).NextBytes(data);
        File.WriteAllBytes(file, data);

        Assert.Equal(0, await cli.RunAsync("put", "--replication", "2", "--chunk-size", "1MiB", file, "/in"));

        Assert.Equal(data, cli.Fs.Content("/in/data.bin"));
        Assert.Equal(2, cli.Fs.Goal("/in/data.bin"));
    }

    [Fact]
    public async Task Put_OverAnExistingFile_NeedsForce()
    {
        cli.Fs.AddFile("/f", [1, 2, 3]);
        cli.Stdin = [9];

        Assert.Equal(4, await cli.RunAsync("put", "-", "/f"));
        Assert.Equal("gfs: /f: already exists (AlreadyExists)", cli.Error.ToString().Trim());
        Assert.Equal(0, await cli.RunAsync("put", "-f", "-", "/f"));
        Assert.Equal([9], cli.Fs.Content("/f"));
    }

    [Fact]
    public async Task Put_WithJson_DescribesTheTransfer()
    {
        cli.Stdin = new byte[5000];

        Assert.Equal(0, await cli.RunAsync("put", "--json", "-", "/j"));

        using var json = JsonDocument.Parse(cli.Out.ToString());
        Assert.Equal("-", json.RootElement.GetProperty("source").GetString());
        Assert.Equal("/j", json.RootElement.GetProperty("destination").GetString());
        Assert.Equal(5000, json.RootElement.GetProperty("bytes").GetInt64());
        Assert.True(json.RootElement.TryGetProperty("seconds", out _));
        Assert.True(json.RootElement.TryGetProperty("megabytesPerSecond", out _));
    }

    [Fact]
    public async Task Put_BadChunkSize_IsAUsageError()
    {
        cli.Stdin = [1];

        Assert.Equal(2, await cli.RunAsync("put", "--chunk-size", "3MiB", "-", "/f"));
        Assert.Contains("--chunk-size", cli.Error.ToString(), StringComparison.Ordinal);
        Assert.False(cli.Fs.Exists("/f"));
    }

    [Fact]
    public async Task Get_WritesTheLocalFile_AndRefusesToOverwriteWithoutForce()
    {
        var data = Encoding.UTF8.GetBytes("remote bytes");
        cli.Fs.AddFile("/r.txt", data);

        Assert.Equal(0, await cli.RunAsync("get", "/r.txt", local.Path));
        Assert.Equal(data, File.ReadAllBytes(local.Combine("r.txt")));

        Assert.Equal(4, await cli.RunAsync("get", "/r.txt", local.Combine("r.txt")));
        Assert.Equal(0, await cli.RunAsync("get", "-f", "/r.txt", local.Combine("r.txt")));
        Assert.Single(Directory.GetFiles(local.Path));
    }

    [Fact]
    public async Task Get_AMissingFile_LeavesNoLocalFile_AndExitsNotFound()
    {
        Assert.Equal(3, await cli.RunAsync("get", "/missing", local.Combine("x")));

        Assert.Equal("gfs: /missing: no such file or directory (NotFound)", cli.Error.ToString().Trim());
        Assert.Empty(Directory.GetFiles(local.Path));
    }

    [Fact]
    public async Task Cat_OfAMissingFile_NamesThatFile()
    {
        cli.Fs.AddFile("/a", [65]);

        Assert.Equal(3, await cli.RunAsync("cat", "/a", "/b"));

        Assert.Equal("A", cli.StdoutText);
        Assert.StartsWith("gfs: /b: ", cli.Error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ls_PrintsNames_Long_Recursive_AndJson()
    {
        cli.Fs.AddDirectory("/d");
        cli.Fs.AddDirectory("/d/sub");
        cli.Fs.AddFile("/d/sub/deep", new byte[10]);
        cli.Fs.AddFile("/d/file", new byte[2048], goal: 2);

        Assert.Equal(0, await cli.RunAsync("ls", "/d"));
        Assert.Equal(["file", "sub"], Lines(cli.Out));

        Assert.Equal(0, await cli.RunAsync("ls", "-R", "/d"));
        Assert.Equal(["/d/file", "/d/sub", "/d/sub/deep"], Lines(cli.Out));

        Assert.Equal(0, await cli.RunAsync("ls", "-l", "-h", "/d"));
        Assert.Equal(["-   2  2.0 KiB  2023-11-14 22:13  file", "d   -        -  2023-11-14 22:13  sub"], Lines(cli.Out));

        Assert.Equal(0, await cli.RunAsync("ls", "--json", "/d"));
        using var json = JsonDocument.Parse(cli.Out.ToString());
        var entries = json.RootElement.GetProperty("entries").EnumerateArray().ToList();
        Assert.Equal(2, entries.Count);
        var file = entries[0];
        Assert.Equal("/d/file", file.GetProperty("path").GetString());
        Assert.Equal("file", file.GetProperty("name").GetString());
        Assert.Equal("file", file.GetProperty("kind").GetString());
        Assert.Equal(2048, file.GetProperty("size").GetInt64());
        Assert.Equal(2, file.GetProperty("replication").GetInt32());
        Assert.Equal(64 << 20, file.GetProperty("chunkSize").GetInt32());
        Assert.Equal(1, file.GetProperty("count").GetInt32());
        Assert.Equal(1_700_000_000_000, file.GetProperty("modifiedUnixMs").GetInt64());
        Assert.Equal("2023-11-14T22:13:20.000Z", file.GetProperty("modified").GetString());
        Assert.Equal("directory", entries[1].GetProperty("kind").GetString());
    }

    [Fact]
    public async Task Ls_OfAMissingPath_PrintsTheErrorLine_AndExits3()
    {
        Assert.Equal(3, await cli.RunAsync("ls", "/nope"));

        Assert.Equal("gfs: /nope: no such file or directory (NotFound)" + Environment.NewLine, cli.Error.ToString());
        Assert.Equal("", cli.Out.ToString());
    }

    [Fact]
    public async Task Stat_Json_HasTheEntryShape()
    {
        cli.Fs.AddFile("/s", new byte[100], goal: 3);

        Assert.Equal(0, await cli.RunAsync("stat", "--json", "s"));

        using var json = JsonDocument.Parse(cli.Out.ToString());
        Assert.Equal(
            ["path", "name", "kind", "size", "modifiedUnixMs", "modified", "replication", "chunkSize", "count"],
            json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal("/s", json.RootElement.GetProperty("path").GetString());
    }

    [Fact]
    public async Task MkdirRmMv_ChangeTheNamespace_WithTheirFlags()
    {
        Assert.Equal(3, await cli.RunAsync("mkdir", "/a/b"));
        Assert.Equal(0, await cli.RunAsync("mkdir", "-p", "/a/b"));
        Assert.Equal(4, await cli.RunAsync("mkdir", "/a/b"));
        Assert.True(cli.Fs.Exists("/a/b"));

        cli.Fs.AddFile("/a/b/f", [1]);
        Assert.Equal(0, await cli.RunAsync("mv", "/a/b/f", "/a"));
        Assert.True(cli.Fs.Exists("/a/f"));

        Assert.Equal(8, await cli.RunAsync("rm", "/a"));
        Assert.Equal(0, await cli.RunAsync("rm", "-r", "/a"));
        Assert.False(cli.Fs.Exists("/a/b"));
        Assert.Equal(3, await cli.RunAsync("rm", "/a"));
        Assert.Equal(0, await cli.RunAsync("rm", "-f", "/a"));
    }

    [Fact]
    public async Task Du_SumsSizesAndReplicatedSizes()
    {
        cli.Fs.AddDirectory("/u");
        cli.Fs.AddDirectory("/u/x");
        cli.Fs.AddFile("/u/x/1", new byte[1000], goal: 3);
        cli.Fs.AddFile("/u/x/2", new byte[24], goal: 1);
        cli.Fs.AddFile("/u/top", new byte[2048], goal: 2);

        Assert.Equal(0, await cli.RunAsync("du", "/u"));
        Assert.Equal(["2048  4096  /u/top", "1024  3024  /u/x"], Lines(cli.Out));

        Assert.Equal(0, await cli.RunAsync("du", "-s", "-h", "/u"));
        Assert.Equal(["3.0 KiB  7.0 KiB  /u"], Lines(cli.Out));

        Assert.Equal(0, await cli.RunAsync("du", "-s", "--json", "/u"));
        using var json = JsonDocument.Parse(cli.Out.ToString());
        var entry = Assert.Single(json.RootElement.GetProperty("entries").EnumerateArray());
        Assert.Equal(3072, entry.GetProperty("size").GetInt64());
        Assert.Equal(7120, entry.GetProperty("replicatedSize").GetInt64());
        Assert.Equal(3, entry.GetProperty("files").GetInt64());
        Assert.Equal(1, entry.GetProperty("directories").GetInt64());
    }

    [Fact]
    public async Task Df_TotalsTheLiveChunkservers_AndCountsTheDead()
    {
        cli.Fs.Chunkservers.Add(new ChunkserverStatus { ServerId = "a", Url = "http://a", CapacityBytes = 1000, FreeBytes = 600, UsedBytes = 300 });
        cli.Fs.Chunkservers.Add(new ChunkserverStatus { ServerId = "b", Url = "http://b", CapacityBytes = 1000, FreeBytes = 400, UsedBytes = 500 });
        cli.Fs.Chunkservers.Add(new ChunkserverStatus { ServerId = "c", Url = "http://c", CapacityBytes = 5000, FreeBytes = 5000, Dead = true });

        Assert.Equal(0, await cli.RunAsync("df", "--json"));
        using var json = JsonDocument.Parse(cli.Out.ToString());
        var root = json.RootElement;
        Assert.Equal(2000, root.GetProperty("capacityBytes").GetInt64());
        Assert.Equal(800, root.GetProperty("usedBytes").GetInt64());
        Assert.Equal(1000, root.GetProperty("freeBytes").GetInt64());
        Assert.Equal(50.0, root.GetProperty("usedPercent").GetDouble());
        Assert.Equal(2, root.GetProperty("live").GetInt32());
        Assert.Equal(1, root.GetProperty("dead").GetInt32());
        Assert.Equal(3, root.GetProperty("chunkservers").GetArrayLength());
        cli.Out.GetStringBuilder().Clear();

        Assert.Equal(0, await cli.RunAsync("df"));
        Assert.Equal(["Size  Used  Available   Use%  Live  Dead", "2000   800       1000  50.0%     2     1"], Lines(cli.Out));
    }

    [Fact]
    public async Task Append_Lines_AppendsEachLineAsARecord_AndReportsOffsets()
    {
        cli.Stdin = Encoding.UTF8.GetBytes("one\ntwo\nlast");

        Assert.Equal(0, await cli.RunAsync("append", "--lines", "--json", "/log", "-"));

        Assert.Equal("one\ntwo\nlast", Encoding.UTF8.GetString(cli.Fs.Content("/log")));
        using var json = JsonDocument.Parse(cli.Out.ToString());
        Assert.Equal("/log", json.RootElement.GetProperty("path").GetString());
        Assert.Equal(
            [(0L, 4), (4L, 4), (8L, 4)],
            json.RootElement.GetProperty("records").EnumerateArray().Select(r => (r.GetProperty("offset").GetInt64(), r.GetProperty("length").GetInt32())));
    }

    [Fact]
    public async Task Append_WholeInput_IsOneRecord_AndTooLargeARecordIsRefused()
    {
        cli.Fs.AddFile("/small", [], chunkSize: 1024);
        cli.Stdin = new byte[256];
        Assert.Equal(0, await cli.RunAsync("append", "/small", "-"));
        Assert.Equal(256, cli.Fs.Content("/small").Length);

        cli.Stdin = new byte[257];
        Assert.Equal(2, await cli.RunAsync("append", "/small", "-"));
        Assert.Contains("largest record", cli.Error.ToString(), StringComparison.Ordinal);
        Assert.Equal(256, cli.Fs.Content("/small").Length);
    }

    [Fact]
    public async Task Setrep_OnADirectory_ChangesEveryFileUnderIt()
    {
        cli.Fs.AddDirectory("/s");
        cli.Fs.AddDirectory("/s/t");
        cli.Fs.AddFile("/s/a", [1]);
        cli.Fs.AddFile("/s/t/b", [1]);

        Assert.Equal(0, await cli.RunAsync("setrep", "2", "/s"));

        Assert.Equal(2, cli.Fs.Goal("/s/a"));
        Assert.Equal(2, cli.Fs.Goal("/s/t/b"));
        Assert.Equal(2, await cli.RunAsync("setrep", "0", "/s/a"));
    }

    [Theory]
    [InlineData("ls", "--bogus")]
    [InlineData("put", "only-one-argument")]
    [InlineData("setrep", "two", "/x")]
    [InlineData("no-such-verb")]
    public async Task BadCommandLines_ExitWithTheUsageCode(params string[] args)
    {
        Assert.Equal(2, await cli.RunAsync(args));
        Assert.Empty(cli.Connected);
    }

    [Fact]
    public async Task NoMastersAnywhere_IsAClearErrorWithoutAPath()
    {
        cli.Environment.Clear();

        Assert.Equal(2, await cli.RunAsync("ls", "/"));

        Assert.StartsWith("gfs: no masters configured", cli.Error.ToString(), StringComparison.Ordinal);
        Assert.EndsWith("(InvalidArgument)" + Environment.NewLine, cli.Error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MastersFlag_IsWhatTheClientConnectsTo()
    {
        Assert.Equal(0, await cli.RunAsync("ls", "--masters", "http://m:9", "/"));

        Assert.Equal("http://m:9/", Assert.Single(Assert.Single(cli.Connected)).ToString());
        Assert.True(cli.Fs.Disposed);
    }

    private static string[] Lines(StringWriter writer)
    {
        var lines = writer.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        writer.GetStringBuilder().Clear();
        return lines;
    }
}
