using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;

namespace Gfs.Node.Rpc;

/// <summary>
/// Kestrel's memory pool with larger blocks than its 4 KiB default. Kestrel's socket transport
/// receives into one pool block per <c>recv</c>, and HTTP/2 request bodies are copied into blocks
/// of the same pool, so 4 KiB blocks cost one system call and one pipe segment per 4 KiB of a bulk
/// upload. Blocks are pinned arrays, kept for reuse up to a bound and dropped above it.
/// </summary>
internal sealed class LargeBlockMemoryPool : MemoryPool<byte>
{
    /// <summary>Block size Gfs nodes use: 64 KiB (the loopback TCP segment size; 256 KiB measured no better).</summary>
    public const int DefaultBlockBytes = 64 * 1024;

    /// <summary>Free blocks kept per pool: 512 × 64 KiB = 32 MiB at most.</summary>
    public const int DefaultMaxPooledBlocks = 512;

    private readonly ConcurrentQueue<Block> free = new();
    private readonly int maxPooled;
    private int pooled;
    private bool disposed;

    public LargeBlockMemoryPool(int blockSize, int maxPooled)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 4096);
        BlockSize = blockSize;
        this.maxPooled = maxPooled;
    }

    public int BlockSize { get; }

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        if (free.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref pooled);
            block.Rented = true;
            return block;
        }

        return new Block(this);
    }

    protected override void Dispose(bool disposing)
    {
        disposed = true;
        while (free.TryDequeue(out _))
        {
        }
    }

    private void Return(Block block)
    {
        if (!disposed && Interlocked.Increment(ref pooled) <= maxPooled)
        {
            free.Enqueue(block);
            return;
        }

        Interlocked.Decrement(ref pooled);
    }

    private sealed class Block : IMemoryOwner<byte>
    {
        private readonly LargeBlockMemoryPool pool;

        public Block(LargeBlockMemoryPool pool)
        {
            this.pool = pool;
            Memory = MemoryMarshal.CreateFromPinnedArray(GC.AllocateUninitializedArray<byte>(pool.BlockSize, pinned: true), 0, pool.BlockSize);
            Rented = true;
        }

        public Memory<byte> Memory { get; }

        public bool Rented { get; set; }

        public void Dispose()
        {
            if (Rented)
            {
                Rented = false;
                pool.Return(this);
            }
        }
    }
}

/// <summary>Gives Kestrel <see cref="LargeBlockMemoryPool"/>s instead of its 4 KiB-block pools.</summary>
internal sealed class LargeBlockMemoryPoolFactory(int blockSize, int maxPooledPerPool) : IMemoryPoolFactory<byte>
{
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new LargeBlockMemoryPool(blockSize, maxPooledPerPool);
}
