namespace Gfs.Storage.Chunks;

/// <summary>
/// Bounds how many chunk files the store keeps open. A chunk's handles stay open after use so that
/// back-to-back mutations and reads do not reopen the file, but a chunkserver holds hundreds of
/// thousands of chunks and the process has a few thousand descriptors: the least recently used
/// chunk's handles are closed once more than <see cref="Capacity"/> chunks have open ones. A handle
/// in use is never closed under its user: users hold a reference (<see cref="ChunkState.LeaseFile"/>),
/// and the descriptor is released only when the last reference is.
/// </summary>
internal sealed class OpenFileCache(int capacity)
{
    private readonly LinkedList<ChunkState> order = [];
    private long evictions;

    public int Capacity { get; } = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity));

    /// <summary>Chunks with open handles (at most <see cref="Capacity"/>, plus any whose eviction waits for their last user).</summary>
    public int Count
    {
        get
        {
            lock (order)
            {
                return order.Count;
            }
        }
    }

    /// <summary>Chunks whose handles were closed to stay under the bound, since the store opened.</summary>
    public long Evictions => Interlocked.Read(ref evictions);

    /// <summary>Marks <paramref name="state"/> as just used; closes the handles of the least recently used chunks above the bound.</summary>
    public void Touch(ChunkState state)
    {
        lock (order)
        {
            if (state.OpenNode is { } node)
            {
                if (node != order.First)
                {
                    order.Remove(node);
                    order.AddFirst(node);
                }

                return;
            }

            state.OpenNode = order.AddFirst(state);
            while (order.Count > Capacity)
            {
                var last = order.Last!;
                order.RemoveLast();
                last.Value.OpenNode = null;
                last.Value.CloseHandles();
                evictions++;
            }
        }
    }

    /// <summary>Closes <paramref name="state"/>'s handles and forgets it (delete, failed create, store closing).</summary>
    public void Close(ChunkState state)
    {
        lock (order)
        {
            if (state.OpenNode is { } node)
            {
                order.Remove(node);
                state.OpenNode = null;
            }

            state.CloseHandles();
        }
    }
}
