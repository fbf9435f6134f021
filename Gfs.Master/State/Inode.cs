using System.Runtime.InteropServices;

namespace Gfs.Master.State;

/// <summary>
/// One namespace entry, 56 bytes. Directories link their children through the sibling fields;
/// files keep their first chunk inline and longer chunk lists in a side table.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Inode
{
    public long MTime;       // Unix ms from the command that last changed the entry (leader-stamped)
    public long Size;        // file length in bytes
    public long Chunk0;      // first chunk handle of a file, 0 when none
    public int Parent;       // -1 for the roots
    public int NameOffset;   // into the name arena
    public int FirstChild;   // directories: -1 when empty
    public int NextSibling;  // -1 at the end
    public int PrevSibling;  // -1 at the start
    public int Count;        // files: chunk count; directories: child count
    public ushort NameLength;
    public InodeKind Kind;
    public byte Goal;
    public byte ChunkSizeLog2;
}
