using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Transport;
using Gfs.Testing;

namespace Gfs.Node.Tests.Chunkserver;

public sealed class ProcessTests
{
    [Fact]
    public async Task GfsChunkserver_PrintsOneReadinessLine_KeepsItsIdAcrossRestarts_AndStopsCleanly()
    {
        using var directory = new TempDirectory("gfs-cs-process");
        var unused = $"http://127.0.0.1:{FreePort.Next()}";
        string[] arguments = ["chunkserver", "--masters", unused, "--data", directory.Path, "--heartbeat-ms", "200", "--rack", "east"];

        string id;
        await using (var process = GfsProcess.Start(arguments, readyMarker: "gfs chunkserver ready"))
        {
            var line = await process.WaitReadyAsync(TimeSpan.FromSeconds(60));
            var fields = line.Split(' ');
            Assert.Equal("gfs chunkserver ready:", string.Join(' ', fields[..3]));
            id = fields.Single(f => f.StartsWith("id=", StringComparison.Ordinal))[3..];
            var url = new Uri(fields.Single(f => f.StartsWith("url=", StringComparison.Ordinal))[4..]);
            Assert.NotEqual(0, url.Port);

            using var client = new RpcClient(new RpcClientOptions());
            var status = await client.CallAsync<Empty, ChunkserverStatus>(url, ChunkRoutes.Status, Empty.Instance);
            Assert.Equal(id, status.ServerId);
            Assert.Equal("east", status.Rack);
            Assert.True(status.CapacityBytes > 0);

            // Masters that do not answer are harmless: it keeps serving.
            await Retry.Until("a failed heartbeat is logged", () => process.Output.Contains("Heartbeat to master", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
            Assert.Equal(id, (await client.CallAsync<Empty, ChunkserverStatus>(url, ChunkRoutes.Status, Empty.Instance)).ServerId);
            Assert.False(process.HasExited);
            Assert.Equal(0, await process.StopAsync(TimeSpan.FromSeconds(30)));
            Assert.Single(process.Output.Split('\n'), l => l.StartsWith("gfs chunkserver ready", StringComparison.Ordinal));
        }

        Assert.Equal(id, File.ReadAllText(Path.Combine(directory.Path, "server-id")).Trim());
        await using (var again = GfsProcess.Start(arguments, readyMarker: "gfs chunkserver ready"))
        {
            var line = await again.WaitReadyAsync(TimeSpan.FromSeconds(60));
            Assert.Contains($"id={id} ", line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task GfsChunkserver_WithBadArguments_ExitsWithUsageError()
    {
        using var directory = new TempDirectory("gfs-cs-process");
        var (code, _, stderr) = await GfsProcess.RunAsync(["chunkserver", "--masters", "ftp://nowhere", "--data", directory.Path]);
        Assert.Equal(2, code);
        Assert.Contains("not an http", stderr, StringComparison.Ordinal);
    }
}
