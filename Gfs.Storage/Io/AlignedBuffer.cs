using System.Buffers;
using System.Runtime.InteropServices;

namespace Gfs.Storage.Io;

/// <summary>
/// Native memory aligned to <see cref="AlignedBufferPool.Alignment"/> (4096), so that it can be the source of an
/// O_DIRECT write without a bounce copy. Freed exactly once, by <see cref="Free"/> (or by the pool that owns it).
/// The memory never moves: pinning is free.
/// </summary>
public sealed unsafe class AlignedBuffer : MemoryManager<byte>
{
    private nint address;

    internal AlignedBuffer(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Capacity = capacity;
        address = (nint)NativeMemory.AlignedAlloc((nuint)capacity, AlignedBufferPool.Alignment);
    }

    /// <summary>Usable bytes (a multiple of 4096).</summary>
    public int Capacity { get; }

    /// <summary>True once the native memory was released.</summary>
    public bool IsFreed => Volatile.Read(ref address) == 0;

    /// <inheritdoc />
    public override Span<byte> GetSpan()
    {
        var p = Volatile.Read(ref address);
        return p == 0 ? throw new ObjectDisposedException(nameof(AlignedBuffer)) : new Span<byte>((void*)p, Capacity);
    }

    /// <inheritdoc />
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, Capacity);
        var p = Volatile.Read(ref address);
        return p == 0 ? throw new ObjectDisposedException(nameof(AlignedBuffer)) : new MemoryHandle((byte*)p + elementIndex);
    }

    /// <inheritdoc />
    public override void Unpin()
    {
        // Native memory does not move.
    }

    /// <summary>Releases the native memory; a second call does nothing.</summary>
    public void Free()
    {
        var p = Interlocked.Exchange(ref address, 0);
        if (p != 0)
        {
            NativeMemory.AlignedFree((void*)p);
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing) => Free();
}
