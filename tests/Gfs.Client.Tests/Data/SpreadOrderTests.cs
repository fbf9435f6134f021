using Gfs.Client.Data;
using Gfs.Client.Protocol.Chunk;

namespace Gfs.Client.Tests.Data;

/// <summary>Sequential readers spread their pieces over the equally near replicas; farther ones stay last.</summary>
public sealed class SpreadOrderTests
{
    private static readonly List<ReplicaLocation> Replicas =
    [
        new() { ServerId = "a", Url = "http://10.0.0.1:7001/" },
        new() { ServerId = "b", Url = "http://10.0.0.1:7002/" },
        new() { ServerId = "c", Url = "http://10.0.0.9:7003/" },
    ];

    [Theory]
    [InlineData(0, "a,b,c")]
    [InlineData(1, "b,a,c")]
    [InlineData(2, "a,b,c")]
    [InlineData(7, "b,a,c")]
    public void Rotates_only_the_nearest_group(int spread, string expected)
        => Assert.Equal(expected, string.Join(',', FileReader.SpreadOrder(Replicas, spread).Select(r => r.ServerId)));

    [Fact]
    public void Every_replica_is_kept_once()
    {
        for (var spread = 0; spread < 6; spread++)
        {
            Assert.Equal(["a", "b", "c"], FileReader.SpreadOrder(Replicas, spread).Select(r => r.ServerId).Order());
        }
    }
}
