using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gfs.Node.Cli.Dev;

/// <summary>
/// The ports of a <c>gfs dev</c> cluster, saved in <c>&lt;data&gt;/cluster.json</c>. Raft membership
/// names each master by its URL, so a cluster must come back on the ports it was born with.
/// </summary>
internal sealed record DevLayout(IReadOnlyList<int> MasterPorts, IReadOnlyList<int> ChunkserverPorts)
{
    public const string FileName = "cluster.json";
    public const int Masters = 3;
    public const string Host = "127.0.0.1";

    [JsonIgnore]
    public IReadOnlyList<Uri> MasterUrls => MasterPorts.Select(Url).ToList();

    public static Uri Url(int port) => new($"http://{Host}:{port}");

    public static string MasterName(int index) => $"master-{index + 1}";

    public static string ChunkserverName(int index) => $"chunkserver-{index + 1}";

    /// <summary>
    /// The layout to run with <paramref name="chunkservers"/> chunkservers: the saved one when there
    /// is one (new ports only for chunkservers it did not have), else fresh ports. Every port used
    /// must be free: a saved one that is not stops the start with a message saying which and why.
    /// </summary>
    public static DevLayout Plan(DevLayout? saved, int chunkservers, string savedPath, Func<int> allocatePort, Func<int, bool> isFree)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(chunkservers);
        ArgumentNullException.ThrowIfNull(allocatePort);
        ArgumentNullException.ThrowIfNull(isFree);
        if (saved is not null && (saved.MasterPorts.Count != Masters || saved.MasterPorts.Concat(saved.ChunkserverPorts).Any(p => p is <= 0 or > 65535)))
        {
            throw new DevException($"{savedPath} is damaged (it must name {Masters} master ports and valid chunkserver ports); remove the data directory to start a new cluster");
        }

        var taken = new HashSet<int>(saved is null ? [] : saved.MasterPorts.Concat(saved.ChunkserverPorts));
        int Fresh()
        {
            for (var attempt = 0; attempt < 1000; attempt++)
            {
                var port = allocatePort();
                if (taken.Add(port))
                {
                    return port;
                }
            }

            throw new DevException("could not find free loopback ports");
        }

        if (saved is null)
        {
            var masters = Enumerable.Range(0, Masters).Select(_ => Fresh()).ToList();
            return new DevLayout(masters, Enumerable.Range(0, chunkservers).Select(_ => Fresh()).ToList());
        }

        var servers = saved.ChunkserverPorts.ToList();
        while (servers.Count < chunkservers)
        {
            servers.Add(Fresh());
        }

        var layout = new DevLayout(saved.MasterPorts, servers);
        var inUse = layout.Members(chunkservers).Where(m => !isFree(m.Port)).ToList();
        if (inUse.Count > 0)
        {
            var list = string.Join(", ", inUse.Select(m => $"{m.Name} port {m.Port}"));
            throw new DevException(
                $"{list} saved in {savedPath} {(inUse.Count == 1 ? "is" : "are")} in use by another process. The masters' Raft membership is tied to these addresses, "
                + "so the cluster cannot move: stop whatever holds the port (another gfs dev on this directory?), or remove the data directory to start a new cluster.");
        }

        return layout;
    }

    /// <summary>The members a run with <paramref name="chunkservers"/> chunkservers uses, with their names and ports.</summary>
    public IEnumerable<(string Name, int Port, bool IsMaster)> Members(int chunkservers)
        => MasterPorts.Select((p, i) => (MasterName(i), p, true))
            .Concat(ChunkserverPorts.Take(chunkservers).Select((p, i) => (ChunkserverName(i), p, false)));

    public static DevLayout? Load(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), DevLayoutJsonContext.Default.DevLayout)
                ?? throw new DevException($"{path} is empty; remove the data directory to start a new cluster");
        }
        catch (JsonException e)
        {
            throw new DevException($"{path} is not valid ({e.Message}); remove the data directory to start a new cluster");
        }
    }

    public void Save(string path)
    {
        var temporary = path + ".tmp";
        File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(this, DevLayoutJsonContext.Default.DevLayout));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>A loopback port nobody listens on now.</summary>
    public static int AllocatePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>True when the port can be bound on loopback right now.</summary>
    public static bool IsPortFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(DevLayout))]
internal sealed partial class DevLayoutJsonContext : JsonSerializerContext;
