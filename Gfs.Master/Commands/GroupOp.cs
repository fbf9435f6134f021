using MessagePack;

namespace Gfs.Master.Commands;

/// <summary>
/// Many independent commands in one log entry: the leader groups the requests that arrive while
/// the previous entry commits. Each command keeps its own client id, request id and timestamp, so
/// exactly-once holds per request exactly as if each had its own entry. Only a leader-issued
/// command (client id 0) may carry a group, and a group holds no group.
/// </summary>
[MessagePackObject]
public sealed class GroupOp : MasterOp
{
    [Key(0)]
    public MasterCommand[] Commands { get; set; } = [];
}
