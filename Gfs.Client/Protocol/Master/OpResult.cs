using MessagePack;

namespace Gfs.Client.Protocol.Master;

/// <summary>The outcome of one operation of a batch.</summary>
[MessagePackObject]
public sealed class OpResult
{
    /// <summary><see cref="ErrorCode.Ok"/> or why the operation failed.</summary>
    [Key(0)]
    public ErrorCode Code { get; set; }

    /// <summary>A reason for people when <see cref="Code"/> is not Ok.</summary>
    [Key(1)]
    public string? Message { get; set; }

    /// <summary>The inode id the operation created or acted on, when it has one.</summary>
    [Key(2)]
    public long Id { get; set; }
}
