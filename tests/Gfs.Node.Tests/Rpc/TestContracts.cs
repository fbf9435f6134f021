using MessagePack;

namespace Gfs.Node.Tests.Rpc;

[MessagePackObject]
public sealed class EchoMessage
{
    [Key(0)]
    public string Text { get; set; } = "";

    [Key(1)]
    public long Number { get; set; }

    [Key(2)]
    public List<string> Items { get; set; } = [];
}

[MessagePackObject]
public sealed class SinkReply
{
    [Key(0)]
    public long Length { get; set; }

    [Key(1)]
    public byte[] Sha256 { get; set; } = [];

    [Key(2)]
    public string Id { get; set; } = "";

    /// <summary>Largest contiguous segment the handler was handed (Kestrel's pool block size bounds it).</summary>
    [Key(3)]
    public int LargestSegment { get; set; }
}

[MessagePackObject]
public sealed class SourceRequest
{
    [Key(0)]
    public string Id { get; set; } = "";

    /// <summary>When non-negative, the server fails with ChecksumMismatch after this many bytes.</summary>
    [Key(1)]
    public long FailAfter { get; set; } = -1;

    /// <summary>When positive and Id is empty, the server streams this many bytes of a fixed pattern.</summary>
    [Key(2)]
    public long Length { get; set; }
}

[MessagePackObject]
public sealed class SourceHeader
{
    [Key(0)]
    public string Id { get; set; } = "";
}

[MessagePackObject]
public sealed class SlowRequest
{
    [Key(0)]
    public int Milliseconds { get; set; }

    [Key(1)]
    public string Tag { get; set; } = "";
}
