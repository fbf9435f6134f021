using Gfs.Client.Protocol;
using MessagePack;

namespace Gfs.Master.Commands;

/// <summary>
/// What applying a command produced. Results are kept in the exactly-once table and written into
/// snapshots, so they are MessagePack objects too. Treat them as immutable once returned.
/// </summary>
[MessagePackObject]
public sealed class CommandResult
{
    /// <summary>Shared result of a successful operation without a value.</summary>
    public static readonly CommandResult Ok = new() { Code = ErrorCode.Ok };

    [Key(0)]
    public ErrorCode Code { get; set; }

    /// <summary>A reason for people; null on success.</summary>
    [Key(1)]
    public string? Message { get; set; }

    /// <summary>
    /// The operation's value: the new inode id (create, mkdir), the chunk handle (allocate; on Conflict the
    /// existing handle at that index), the new version (bump; on Conflict the current one).
    /// </summary>
    [Key(2)]
    public long Value { get; set; }

    /// <summary>A second value: the initial chunk version of an allocation.</summary>
    [Key(3)]
    public long Value2 { get; set; }

    /// <summary>Replicas chosen for an allocated chunk (echo of the command).</summary>
    [Key(4)]
    public string[]? Replicas { get; set; }

    /// <summary>Per-op results of a batch, in order.</summary>
    [Key(5)]
    public CommandResult[]? Batch { get; set; }

    /// <summary>
    /// True when this result is a stored one returned for a retried request (it was not applied again).
    /// Never stored; set only on the copy handed back.
    /// </summary>
    [IgnoreMember]
    public bool Replayed { get; private set; }

    public static CommandResult Error(ErrorCode code, string message) => new() { Code = code, Message = message };

    public static CommandResult WithValue(long value, long value2 = 0) => new() { Code = ErrorCode.Ok, Value = value, Value2 = value2 };

    internal CommandResult AsReplay() => new()
    {
        Code = Code,
        Message = Message,
        Value = Value,
        Value2 = Value2,
        Replicas = Replicas,
        Batch = Batch,
        Replayed = true,
    };

    public override string ToString() => Message is null ? $"{Code} {Value}" : $"{Code} {Value}: {Message}";
}
