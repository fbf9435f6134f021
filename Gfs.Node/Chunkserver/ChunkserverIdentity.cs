namespace Gfs.Node.Chunkserver;

/// <summary>Who this chunkserver is: its persistent id, its rack, and the URL it serves on (known once Kestrel bound).</summary>
internal sealed class ChunkserverIdentity
{
    public string ServerId { get; init; } = "";

    public string Rack { get; init; } = "";

    public Uri Url { get; set; } = new("http://127.0.0.1/");
}
