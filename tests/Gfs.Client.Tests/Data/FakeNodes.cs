namespace Gfs.Client.Tests.Data;

internal sealed class FakeServer(string id, string url)
{
    public string Id { get; } = id;

    public string Url { get; } = url;

    public System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> Buffer { get; } = new();

    public Dictionary<long, FakeReplica> Replicas { get; } = [];
}

internal sealed class FakeChunk(long handle, int index, int chunkSize)
{
    public long Handle { get; } = handle;

    public int Index { get; } = index;

    public int ChunkSize { get; } = chunkSize;

    public long Version { get; set; }

    public List<FakeServer> Replicas { get; } = [];

    public FakeServer? Primary { get; set; }

    /// <summary>When the primary's lease ends on the fake leader's clock (with <see cref="FakeCluster.Time"/>).</summary>
    public DateTimeOffset LeaseEnd { get; set; }
}

internal sealed class FakeReplica(int chunkSize)
{
    public byte[] Data { get; } = new byte[chunkSize];

    public long Version { get; set; }

    public long Length { get; set; }

    public bool Corrupt { get; set; }

    public Dictionary<(long ClientId, long Sequence), long> Table { get; } = [];
}
