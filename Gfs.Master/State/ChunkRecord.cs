using System.Runtime.InteropServices;

namespace Gfs.Master.State;

/// <summary>One chunk, 16 bytes. Its goal is its file's goal (one byte per file rather than per chunk).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ChunkRecord
{
    public long Handle;  // 0 marks a free slot
    public uint Version;
    public int Owner;    // inode of the file
}
