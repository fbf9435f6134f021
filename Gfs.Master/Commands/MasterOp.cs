using MessagePack;

namespace Gfs.Master.Commands;

/// <summary>
/// An operation of the master log. The union tag is the operation's stable number (docs/master.md);
/// a new operation takes a new tag.
/// </summary>
[Union(OpTags.MakeDirectory, typeof(MakeDirectoryOp))]
[Union(OpTags.CreateFile, typeof(CreateFileOp))]
[Union(OpTags.Rename, typeof(RenameOp))]
[Union(OpTags.Delete, typeof(DeleteOp))]
[Union(OpTags.SetReplication, typeof(SetReplicationOp))]
[Union(OpTags.AllocateChunk, typeof(AllocateChunkOp))]
[Union(OpTags.BumpChunkVersion, typeof(BumpChunkVersionOp))]
[Union(OpTags.Batch, typeof(BatchOp))]
[Union(OpTags.Noop, typeof(NoopOp))]
[Union(OpTags.Group, typeof(GroupOp))]
[Union(OpTags.SetLength, typeof(SetLengthOp))]
public abstract class MasterOp
{
}
