using Gfs.Storage.Chunks;
using Gfs.Storage.Io;
using Microsoft.Win32.SafeHandles;

namespace Gfs.Storage;

public sealed partial class ChunkStore
{
    /// <summary>Offset, length and memory address of a direct write are multiples of this.</summary>
    private const int DirectAlignment = AlignedBufferPool.Alignment;

    /// <summary>Unaligned sources are copied through pooled aligned segments of this size.</summary>
    private const int BounceSegment = 4 * 1024 * 1024;

    private volatile bool directUnavailable;
    private long directBytes;
    private long bouncedBytes;

    /// <summary>
    /// Whether appended bytes at aligned offsets go through O_DIRECT: configured on, and the file system has not
    /// refused it (EINVAL on open or write turns it off for the store's lifetime).
    /// </summary>
    public bool DirectWritesActive => options.DirectWrites && !directUnavailable;

    /// <summary>Bytes written with O_DIRECT so far.</summary>
    internal long DirectBytes => Interlocked.Read(ref directBytes);

    /// <summary>Of <see cref="DirectBytes"/>, those copied through a bounce buffer first (the source was not aligned).</summary>
    internal long BouncedBytes => Interlocked.Read(ref bouncedBytes);

    /// <summary>
    /// Writes the aligned head of <paramref name="data"/> (which goes to <paramref name="offset"/>, the chunk's end)
    /// with O_DIRECT when it can, and returns how many bytes it wrote; the caller writes the rest buffered. Returns 0
    /// when the offset is unaligned, the data is shorter than one unit or direct I/O is unavailable. A failed
    /// write throws <see cref="IOException"/> carrying the errno (the caller truncates back).
    /// </summary>
    private unsafe int TryWriteDirect(ChunkState state, long offset, ReadOnlyMemory<byte> data)
    {
        var length = data.Length & ~(DirectAlignment - 1);
        if (length == 0 || offset % DirectAlignment != 0 || !DirectWritesActive || DirectFileOf(state) is not { } lease)
        {
            return 0;
        }

        using var leased = lease;
        var file = lease.Handle;

        using var pin = data.Pin();
        var source = (byte*)pin.Pointer;
        if (((nint)source & (DirectAlignment - 1)) == 0)
        {
            return WriteDirectSegment(file, source, length, offset, 0);
        }

        var bounce = AlignedBufferPool.Shared.Rent(BounceSegment);
        try
        {
            using var bouncePin = bounce.Pin();
            var segment = (byte*)bouncePin.Pointer;
            var done = 0;
            while (done < length)
            {
                var n = Math.Min(BounceSegment, length - done);
                new ReadOnlySpan<byte>(source + done, n).CopyTo(new Span<byte>(segment, n));
                var written = WriteDirectSegment(file, segment, n, offset + done, done);
                Interlocked.Add(ref bouncedBytes, written);
                done += written;
                if (written < n)
                {
                    break; // direct I/O was refused part-way: the caller goes on buffered from here
                }
            }

            return done;
        }
        finally
        {
            AlignedBufferPool.Shared.Return(bounce);
        }
    }

    /// <summary>One direct pwrite (repeated until complete); returns the bytes written, fewer only when EINVAL turned direct I/O off.</summary>
    private unsafe int WriteDirectSegment(SafeFileHandle file, byte* source, int length, long offset, int before)
    {
        var rc = faults?.Check(Failpoints.ChunkWrite) ?? 0;
        var written = 0;
        if (rc == 0)
        {
            rc = Posix.WriteAll(file, source, length, offset, out written);
        }

        Interlocked.Add(ref directBytes, written);
        if (rc == 0)
        {
            return written;
        }

        if (rc == Posix.EINVAL)
        {
            // The file system (or its logical block size) does not take these writes: stay buffered from now on.
            directUnavailable = true;
            return written & ~(DirectAlignment - 1);
        }

        throw new IOException($"O_DIRECT write of {length} bytes at {offset} failed after {before + written} bytes: errno {rc}", rc);
    }

    /// <summary>The chunk's O_DIRECT handle with a reference taken, opened on first use; null (write buffered) when it cannot be opened.</summary>
    private HandleLease? DirectFileOf(ChunkState state)
    {
        if (state.LeaseDirectFile() is { } open)
        {
            return open;
        }

        var rc = faults?.Check(Failpoints.ChunkOpenDirect) ?? 0;
        SafeFileHandle? file = null;
        if (rc == 0)
        {
            rc = Posix.OpenDirect(state.Path, out file);
        }

        if (rc == 0 && file is not null)
        {
            return state.AdoptDirectFile(file, openFiles);
        }

        if (rc == Posix.EINVAL)
        {
            // tmpfs before Linux 6.6 and some other file systems: remember it, do not try again for every chunk.
            directUnavailable = true;
        }

        // Anything else (the file vanished, no descriptors left) costs this write its direct path, nothing more:
        // the buffered write then reports the real trouble, if any.
        return null;
    }
}
