using Gfs.Node.Cli.Dev;
using Gfs.Testing;

namespace Gfs.Node.Tests.Cli;

/// <summary>gfs dev's port plan (cluster.json), how it starts itself, and what it prints.</summary>
public sealed class DevTests : IDisposable
{
    private readonly TempDirectory data = new();
    private int nextPort = 20_000;

    public void Dispose() => data.Dispose();

    private string SavedPath => data.Combine(DevLayout.FileName);

    [Fact]
    public void NewCluster_GetsDistinctPorts_ForThreeMastersAndEachChunkserver()
    {
        var ports = new Queue<int>([20_000, 20_000, 20_001, 20_002, 20_001, 20_003, 20_004]);

        var layout = DevLayout.Plan(null, 2, SavedPath, ports.Dequeue, _ => true);

        Assert.Equal([20_000, 20_001, 20_002], layout.MasterPorts);
        Assert.Equal([20_003, 20_004], layout.ChunkserverPorts);
    }

    [Fact]
    public void SavedLayout_IsReused_AndSurvivesASaveAndLoad()
    {
        var first = DevLayout.Plan(null, 3, SavedPath, Next, _ => true);
        first.Save(SavedPath);

        var loaded = DevLayout.Load(SavedPath);
        var second = DevLayout.Plan(loaded, 3, SavedPath, () => throw new InvalidOperationException("no new port may be needed"), _ => true);

        Assert.Equal(first.MasterPorts, second.MasterPorts);
        Assert.Equal(first.ChunkserverPorts, second.ChunkserverPorts);
        Assert.Equal(first.MasterUrls, second.MasterUrls);
    }

    [Fact]
    public void MoreChunkservers_KeepTheSavedPorts_AndAddNewOnes()
    {
        var saved = new DevLayout([30_000, 30_001, 30_002], [30_003]);

        var layout = DevLayout.Plan(saved, 3, SavedPath, new Queue<int>([30_003, 30_004, 30_005]).Dequeue, _ => true);

        Assert.Equal([30_000, 30_001, 30_002], layout.MasterPorts);
        Assert.Equal([30_003, 30_004, 30_005], layout.ChunkserverPorts);
    }

    [Fact]
    public void FewerChunkservers_RunOnlyTheFirst_ButForgetNone()
    {
        var saved = new DevLayout([30_000, 30_001, 30_002], [30_003, 30_004]);

        var layout = DevLayout.Plan(saved, 1, SavedPath, Next, port => port != 30_004);

        Assert.Equal([30_003, 30_004], layout.ChunkserverPorts);
        Assert.Equal(["master-1", "master-2", "master-3", "chunkserver-1"], layout.Members(1).Select(m => m.Name));
    }

    [Fact]
    public void SavedPortInUse_StopsTheStart_NamingTheMemberAndThePort()
    {
        var saved = new DevLayout([30_000, 30_001, 30_002], [30_003]);

        var error = Assert.Throws<DevException>(() => DevLayout.Plan(saved, 1, SavedPath, Next, port => port != 30_001));

        Assert.Contains("master-2 port 30001", error.Message, StringComparison.Ordinal);
        Assert.Contains(SavedPath, error.Message, StringComparison.Ordinal);
        Assert.Contains("in use", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DamagedLayoutFile_IsReported()
    {
        File.WriteAllText(SavedPath, "{ not json");
        Assert.Throws<DevException>(() => DevLayout.Load(SavedPath));

        var twoMasters = new DevLayout([1, 2], []);
        Assert.Throws<DevException>(() => DevLayout.Plan(twoMasters, 1, SavedPath, Next, _ => true));
    }

    [Fact]
    public void RealPorts_AllocatedAreFree_UntilSomeoneListens()
    {
        var port = DevLayout.AllocatePort();
        Assert.True(DevLayout.IsPortFree(port));

        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
        listener.Start();
        Assert.False(DevLayout.IsPortFree(port));
    }

    [Theory]
    [InlineData("/usr/share/dotnet/dotnet", "/app/gfs.dll", "/usr/share/dotnet/dotnet", "/app/gfs.dll")]
    [InlineData("/usr/local/bin/gfs", "/usr/local/bin/gfs.dll", "/usr/local/bin/gfs", null)]
    public void Self_IsTheApphost_OrDotnetWithTheEntryAssembly(string processPath, string entry, string fileName, string? prefix)
    {
        var (file, arguments) = SelfProcess.Resolve(processPath, entry);

        Assert.Equal(fileName, file);
        Assert.Equal(prefix is null ? [] : [prefix], arguments);
    }

    [Fact]
    public void TryThisLines_UseGfs_OnlyWhenItIsOnThePath()
    {
        Assert.Equal("gfs", SelfProcess.UserCommand("/bin:/opt/gfs", p => p == "/opt/gfs/gfs"));
        Assert.Equal("dotnet run --project Gfs.Node --", SelfProcess.UserCommand("/bin", _ => false));
    }

    [Fact]
    public void Summary_EndsWithTheMachineReadableReadyLine_AndExportsTheMasters()
    {
        var masters = new List<Uri> { new("http://127.0.0.1:1"), new("http://127.0.0.1:2"), new("http://127.0.0.1:3") };
        var members = masters.Select((u, i) => ($"master-{i + 1}", u)).Append(("chunkserver-1", new Uri("http://127.0.0.1:4"))).ToList();

        var lines = DevCommand.Summary(masters, members, masters[1], "/d", "/d/logs", "1.2", "gfs");

        Assert.Equal("gfs dev ready: masters=http://127.0.0.1:1,http://127.0.0.1:2,http://127.0.0.1:3", lines[^1]);
        Assert.Contains("  export GFS_MASTERS=http://127.0.0.1:1,http://127.0.0.1:2,http://127.0.0.1:3", lines);
        Assert.Contains("  master-2       http://127.0.0.1:2  (leader)", lines);
        Assert.Contains("  gfs put ./README.md /hello.txt", lines);
    }

    private int Next() => nextPort++;
}
