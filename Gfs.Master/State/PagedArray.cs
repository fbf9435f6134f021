namespace Gfs.Master.State;

/// <summary>
/// A growable array of structs split into fixed pages, with copy-on-write freezing: <see cref="Freeze"/>
/// captures the current pages in O(pages), and the first later write to a captured page copies that
/// page. A snapshot thus reads a frozen view while apply goes on. Growth adds pages (no 2x copy).
/// Not thread-safe for writers; a frozen view may be read by another thread while one writer goes on.
/// </summary>
internal sealed class PagedArray<T>
    where T : struct
{
    public const int PageShift = 12;
    public const int PageSize = 1 << PageShift;
    private const int PageMask = PageSize - 1;

    private T[][] pages = [];
    private int[] pageGeneration = [];
    private int generation;

    public int Count { get; private set; }

    /// <summary>Read access. Never write through it: it may be a page shared with a frozen view.</summary>
    public ref readonly T this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count)
            {
                throw new ArgumentOutOfRangeException(nameof(index));
            }

            return ref pages[index >> PageShift][index & PageMask];
        }
    }

    /// <summary>Write access: copies the page first if a frozen view still shares it.</summary>
    public ref T GetForWrite(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index));
        }

        var p = index >> PageShift;
        if (pageGeneration[p] != generation)
        {
            pages[p] = (T[])pages[p].Clone();
            pageGeneration[p] = generation;
        }

        return ref pages[p][index & PageMask];
    }

    /// <summary>Appends a default element and returns its index.</summary>
    public int Add()
    {
        var index = Count;
        var p = index >> PageShift;
        if (p == pages.Length)
        {
            var n = Math.Max(4, pages.Length * 2);
            Array.Resize(ref pages, n);
            Array.Resize(ref pageGeneration, n);
        }

        if (pages[p] is null)
        {
            pages[p] = new T[PageSize];
            pageGeneration[p] = generation;
        }

        Count = index + 1;
        return index;
    }

    /// <summary>Captures the current contents; later writes do not show in the view.</summary>
    public View Freeze()
    {
        var view = new View((T[][])pages.Clone(), Count);
        generation++;
        return view;
    }

    /// <summary>Bytes held by the pages (for memory reports).</summary>
    public long AllocatedBytes(int elementSize) => (long)pages.Count(p => p is not null) * PageSize * elementSize;

    /// <summary>A frozen, read-only copy of the array.</summary>
    internal readonly struct View(T[][] pages, int count)
    {
        public int Count => count;

        public ref readonly T this[int index] => ref pages[index >> PageShift][index & PageMask];
    }
}
