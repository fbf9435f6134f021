using System.Security.Cryptography;
using System.Text.Json;
using Gfs.Testing;

namespace Gfs.IntegrationTests;

/// <summary>The <c>gfs</c> verbs as a user runs them, against a real cluster; and <c>gfs dev</c> itself.</summary>
public sealed class CliEndToEndTests(FileSystemClusterFixture fixture) : IClassFixture<FileSystemClusterFixture>
{
    private GfsCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task The_verbs_work_end_to_end_with_json_and_typed_exit_codes()
    {
        using var local = new TempDirectory("gfs-cli");
        var source = local.Combine("in.bin");
        var data = FileSystemTests.RandomBytes((5 << 20) + 17, seed: 11);
        await File.WriteAllBytesAsync(source, data, TestContext.Current.CancellationToken);

        await Ok("mkdir", "-p", "/cli/a/b");
        var put = Json(await Ok("put", "--json", "--chunk-size", "1MiB", source, "/cli/a/b/f.bin"));
        Assert.Equal(data.Length, put.GetProperty("bytes").GetInt64());

        var stat = Json(await Ok("stat", "--json", "/cli/a/b/f.bin"));
        Assert.Equal("file", stat.GetProperty("kind").GetString());
        Assert.Equal(data.Length, stat.GetProperty("size").GetInt64());
        Assert.Equal(6, stat.GetProperty("count").GetInt32());

        var target = local.Combine("out.bin");
        await Ok("get", "/cli/a/b/f.bin", target);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await File.ReadAllBytesAsync(target, TestContext.Current.CancellationToken)));

        var (code, stdout, _) = await Run(stdin: "hello from stdin\n", "put", "-", "/cli/stdin.txt");
        Assert.Equal(0, code);
        Assert.Equal("hello from stdin\n", (await Ok("cat", "/cli/stdin.txt")));
        _ = stdout;

        await Ok("append", "/cli/stdin.txt", "-", stdin: "more\n");
        Assert.Equal("hello from stdin\nmore\n", await Ok("cat", "/cli/stdin.txt"));

        var ls = Json(await Ok("ls", "-R", "--json", "/cli"));
        var paths = ls.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("path").GetString()).ToList();
        Assert.Contains("/cli/a/b/f.bin", paths);
        Assert.Contains("/cli/stdin.txt", paths);

        await Ok("mv", "/cli/stdin.txt", "/cli/moved.txt");
        await Ok("setrep", "2", "/cli/moved.txt");
        Assert.Equal(2, Json(await Ok("stat", "--json", "/cli/moved.txt")).GetProperty("replication").GetInt32());

        var du = Json(await Ok("du", "-s", "--json", "/cli"));
        Assert.Equal(data.Length + 22, du.GetProperty("entries")[0].GetProperty("size").GetInt64());

        var df = Json(await Ok("df", "--json"));
        Assert.Equal(Cluster.ChunkserverCount, df.GetProperty("live").GetInt32());
        Assert.True(df.GetProperty("capacityBytes").GetInt64() > 0);

        // Failures: one line on stderr, "gfs: <path>: <message> (<ErrorCode>)", the documented exit code
        // (docs/cli.md, "Errors and exit codes"), nothing changed.
        var missing = await Run(null, "stat", "/cli/nope");
        AssertFails(missing, 3, @"^gfs: /cli/nope: .*\(NotFound\)$");

        var exists = await Run(null, "put", source, "/cli/a/b/f.bin");
        AssertFails(exists, 4, @"^gfs: /cli/a/b/f\.bin: .*\(AlreadyExists\)$");
        Assert.Equal(data.Length, Json(await Ok("stat", "--json", "/cli/a/b/f.bin")).GetProperty("size").GetInt64());

        var notEmpty = await Run(null, "rm", "/cli/a");
        AssertFails(notEmpty, 8, @"^gfs: /cli/a: .*\(DirectoryNotEmpty\)$");
        Assert.Equal("file", Json(await Ok("stat", "--json", "/cli/a/b/f.bin")).GetProperty("kind").GetString());
        await Ok("rm", "-r", "/cli/a");
        AssertFails(await Run(null, "stat", "/cli/a"), 3, @"^gfs: /cli/a: .*\(NotFound\)$");

        var badPath = await Run(null, "mkdir", "/cli/x\u0001y");
        AssertFails(badPath, 2, @"^gfs: .*\(InvalidArgument\)$");
        AssertFails(await Run(null, "stat", "/cli/x\u0001y"), 2, @"^gfs: .*\(InvalidArgument\)$");

        var noMasters = await GfsProcess.RunAsync(["ls", "/"], environment: new Dictionary<string, string> { ["GFS_MASTERS"] = "", ["GFS_CONFIG"] = "", ["HOME"] = local.Path });
        AssertFails(noMasters, 2, @"^gfs: no masters configured: .*\(InvalidArgument\)$");

        var missingConfigPath = local.Combine("none.json");
        var missingConfig = await GfsProcess.RunAsync(["ls", "/"], environment: new Dictionary<string, string> { ["GFS_MASTERS"] = "", ["GFS_CONFIG"] = missingConfigPath });
        AssertFails(missingConfig, 3, $@"^gfs: {System.Text.RegularExpressions.Regex.Escape(missingConfigPath)}: the config file named by GFS_CONFIG does not exist \(NotFound\)$");

        var malformedConfigPath = local.Combine("bad.json");
        await File.WriteAllTextAsync(malformedConfigPath, "{\"masters\": 7}", TestContext.Current.CancellationToken);
        var malformedConfig = await GfsProcess.RunAsync(["ls", "/"], environment: new Dictionary<string, string> { ["GFS_MASTERS"] = "", ["GFS_CONFIG"] = malformedConfigPath });
        AssertFails(malformedConfig, 2, $@"^gfs: {System.Text.RegularExpressions.Regex.Escape(malformedConfigPath)}: .*\(InvalidArgument\)$");
    }

    /// <summary>A failure as docs/cli.md describes it: the exit code, nothing on stdout, one line on stderr matching <paramref name="stderr"/>.</summary>
    private static void AssertFails((int ExitCode, string Stdout, string Stderr) result, int exitCode, string stderr)
    {
        Assert.True(result.ExitCode == exitCode, $"exit code {result.ExitCode}, expected {exitCode}; stderr: {result.Stderr}");
        Assert.Equal("", result.Stdout);
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got: {result.Stderr}");
        Assert.Matches(stderr, lines[0].TrimEnd('\r'));
    }

    [Fact]
    public async Task Gfs_dev_starts_a_cluster_that_serves_a_put_and_get_and_stops_cleanly()
    {
        var ct = TestContext.Current.CancellationToken;
        using var directory = new TempDirectory("gfs-dev");
        var started = System.Diagnostics.Stopwatch.StartNew();
        await using var dev = GfsProcess.Start(["dev", "--data", directory.Path], readyMarker: "gfs dev ready");
        var line = await dev.WaitReadyAsync(TimeSpan.FromSeconds(60));
        var startup = started.Elapsed;
        var masters = line[(line.IndexOf("masters=", StringComparison.Ordinal) + "masters=".Length)..].Trim();
        Assert.False(string.IsNullOrEmpty(masters), line);

        var env = new Dictionary<string, string> { ["GFS_MASTERS"] = masters };
        var file = directory.Combine("x.bin");
        var data = FileSystemTests.RandomBytes(3 << 20, seed: 12);
        await File.WriteAllBytesAsync(file, data, ct);
        var put = await GfsProcess.RunAsync(["put", file, "/x.bin"], environment: env);
        Assert.True(put.ExitCode == 0, put.Stderr);
        var back = directory.Combine("back.bin");
        var get = await GfsProcess.RunAsync(["get", "/x.bin", back], environment: env);
        Assert.True(get.ExitCode == 0, get.Stderr);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await File.ReadAllBytesAsync(back, ct)));

        Assert.Equal(0, await dev.StopAsync(TimeSpan.FromSeconds(30)));
        Assert.True(Directory.Exists(Path.Combine(directory.Path, "logs")));
        TestContext.Current.SendDiagnosticMessage($"gfs dev was ready in {startup.TotalSeconds:0.0} s");

        // A second run reuses the data: the file is still there.
        await using var again = GfsProcess.Start(["dev", "--data", directory.Path], readyMarker: "gfs dev ready");
        await again.WaitReadyAsync(TimeSpan.FromSeconds(60));
        var cat = await GfsProcess.RunAsync(["stat", "--json", "/x.bin"], environment: env);
        Assert.True(cat.ExitCode == 0, cat.Stderr);
        Assert.Equal(data.Length, Json(cat.Stdout).GetProperty("size").GetInt64());
        Assert.Equal(0, await again.StopAsync(TimeSpan.FromSeconds(30)));
    }

    private Task<(int ExitCode, string Stdout, string Stderr)> Run(string? stdin, params string[] arguments)
        => GfsProcess.RunAsync([.. arguments, "--masters", Cluster.MastersArgument], stdin: stdin);

    private async Task<string> Ok(params string[] arguments) => await Ok(arguments, null);

    private async Task<string> Ok(string verb, string path, string local, string stdin) => await Ok([verb, path, local], stdin);

    private async Task<string> Ok(string[] arguments, string? stdin)
    {
        var (code, stdout, stderr) = await Run(stdin, arguments);
        Assert.True(code == 0, $"gfs {string.Join(' ', arguments)} exited {code}: {stderr}");
        return stdout;
    }

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;
}
