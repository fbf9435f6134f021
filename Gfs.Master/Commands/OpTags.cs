namespace Gfs.Master.Commands;

/// <summary>Stable union tags of <see cref="MasterOp"/>: part of the log format, never renumbered.</summary>
public static class OpTags
{
    public const int MakeDirectory = 1;
    public const int CreateFile = 2;
    public const int Rename = 3;
    public const int Delete = 4;
    public const int SetReplication = 5;
    public const int AllocateChunk = 6;
    public const int BumpChunkVersion = 7;
    public const int Batch = 8;
    public const int Noop = 9;

    public const int Group = 10;
    public const int SetLength = 11;
}
