namespace Gfs.Master.State;

/// <summary>
/// Append-only storage of entry names (UTF-8) in 64 KiB pages; an entry keeps only an offset and a length.
/// Bytes once written never change, so a frozen view needs only the page list. Space of renamed and
/// deleted names is reclaimed when a snapshot is loaded (names are rewritten compactly).
/// </summary>
internal sealed class NameArena
{
    private const int PageShift = 16;
    private const int PageSize = 1 << PageShift;
    private const int PageMask = PageSize - 1;

    private byte[][] pages = [];
    private int pageCount;
    private int position = PageSize; // in the current page; starts "full" so the first append opens a page

    public long UsedBytes { get; private set; }

    public long AllocatedBytes => (long)pageCount * PageSize;

    /// <summary>Stores <paramref name="name"/> and returns its offset.</summary>
    public int Append(ReadOnlySpan<byte> name)
    {
        if (name.Length > PageSize)
        {
            throw new ArgumentOutOfRangeException(nameof(name));
        }

        if (pageCount == 0 || PageSize - position < name.Length)
        {
            if (pageCount == pages.Length)
            {
                Array.Resize(ref pages, Math.Max(4, pages.Length * 2));
            }

            pages[pageCount++] = new byte[PageSize];
            position = 0;
        }

        var offset = ((pageCount - 1) << PageShift) | position;
        name.CopyTo(pages[pageCount - 1].AsSpan(position));
        position += name.Length;
        UsedBytes += name.Length;
        return offset;
    }

    public ReadOnlySpan<byte> Get(int offset, int length) => pages[offset >> PageShift].AsSpan(offset & PageMask, length);

    public View Freeze() => new((byte[][])pages.Clone());

    internal readonly struct View(byte[][] pages)
    {
        public ReadOnlySpan<byte> Get(int offset, int length) => pages[offset >> PageShift].AsSpan(offset & PageMask, length);
    }
}
