using Gfs.Testing;

namespace Gfs.Consensus.Tests;

/// <summary>Three in-process members on loopback ports with their own data directories.</summary>
internal sealed class RaftCluster3 : IAsyncDisposable
{
    private readonly TempDirectory temp = new("gfs-raft");

    public RaftCluster3(long snapshotLogBytes = 64L << 20)
    {
        var ports = Enumerable.Range(0, 3).Select(_ => FreePort.Next()).ToArray();
        Nodes = [.. Enumerable.Range(0, 3).Select(i => new RaftTestNode(i, ports, temp.Combine($"node{i}"), snapshotLogBytes))];
    }

    public static TimeSpan Patience => TimeSpan.FromSeconds(30);

    public RaftTestNode[] Nodes { get; }

    public Task StartAllAsync() => Task.WhenAll(Nodes.Select(n => n.StartAsync()));

    /// <summary>Waits until one running member leads with its term committed; returns it.</summary>
    public async Task<RaftTestNode> LeaderAsync()
    {
        RaftTestNode? leader = null;
        await Retry.Until("a running member leads", () =>
        {
            leader = Nodes.FirstOrDefault(n => n.Running && n.Raft.IsLeader);
            return leader is not null;
        }, Patience);
        return leader!;
    }

    /// <summary>Proposes through whichever member leads, retrying across leader changes.</summary>
    public async Task<object?> ProposeAsync(string command)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(command);
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var leader = await LeaderAsync();
            try
            {
                return await leader.Raft.ProposeAsync(bytes);
            }
            catch (NotLeaderException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    public Task AllHaveAsync(int count, IEnumerable<RaftTestNode>? nodes = null)
        => Retry.Until($"every running member applied {count} commands", () => (nodes ?? Nodes).Where(n => n.Running).All(n => n.State.Count >= count), Patience);

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }

        temp.Dispose();
    }
}
