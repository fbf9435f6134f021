using System.Runtime.InteropServices;

namespace Gfs.Master.State;

/// <summary>
/// One chunk, 24 bytes. Its goal is its file's goal (one byte per file rather than per chunk). The
/// grant fields say which servers the current version was granted to and from which version: what a
/// new leader needs to tell a replica that merely missed a grant from one that missed data
/// (docs/data-path.md, "When no replica holds the current version").
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ChunkRecord
{
    public long Handle;  // 0 marks a free slot
    public uint Version;
    public int Owner;    // inode of the file

    // Server numbers (1-based, in the state's server table) the current version was granted to, the
    // primary first; 0 ends the list. A longer list lives whole in the overflow table.
    public ushort Granted0;
    public ushort Granted1;
    public ushort Granted2;

    // Version minus the oldest version a replica of the grant could hold (1 after a plain bump, the
    // version itself for a chunk created empty); 0 when not known (state written before grants were kept).
    public ushort BaseBack;
}
