namespace Gfs.Master.State;

/// <summary>What an inode slot holds.</summary>
public enum InodeKind : byte
{
    Free = 0,
    Directory = 1,
    File = 2,
}
