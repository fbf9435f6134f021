using MessagePack;

namespace Gfs.Master.Commands;

/// <summary>Changes nothing; used to confirm leadership or to test the log.</summary>
[MessagePackObject]
public sealed class NoopOp : MasterOp
{
}
