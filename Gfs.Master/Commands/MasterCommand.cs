using MessagePack;

namespace Gfs.Master.Commands;

/// <summary>
/// One entry of the master's Raft log: who asked (for exactly-once), when (stamped by the leader, the
/// only clock apply ever sees) and what. Keys are never renumbered; new fields take new keys.
/// </summary>
[MessagePackObject]
public sealed class MasterCommand
{
    /// <summary>The client's id; 0 for commands the leader issues itself (no exactly-once entry).</summary>
    [Key(0)]
    public long ClientId { get; set; }

    /// <summary>The client's request id, increasing per client; a retry reuses it.</summary>
    [Key(1)]
    public long RequestId { get; set; }

    /// <summary>Leader wall-clock time in Unix milliseconds, stamped when the command is proposed.</summary>
    [Key(2)]
    public long Timestamp { get; set; }

    /// <summary>The operation.</summary>
    [Key(3)]
    public MasterOp? Op { get; set; }
}
