namespace Gfs.Storage.Io;

/// <summary>
/// Named fault injection points for tests: each I/O call site asks whether to fail with an errno
/// (for example <c>EIO</c> on <see cref="ChunkSync"/>, <c>ENOSPC</c> on <see cref="ChunkAllocate"/>).
/// </summary>
internal sealed class Failpoints
{
    public const string ChunkSync = "chunk.fdatasync";
    public const string WalSync = "wal.fdatasync";
    public const string ChunkAllocate = "chunk.fallocate";
    public const string WalAllocate = "wal.fallocate";
    public const string CrashBeforeInPlaceWrite = "overwrite.crash-before-in-place-write";

    private readonly Dictionary<string, int> armed = new(StringComparer.Ordinal);

    /// <summary>Makes every later call of <paramref name="point"/> fail with <paramref name="errno"/>.</summary>
    public void Arm(string point, int errno)
    {
        lock (armed)
        {
            armed[point] = errno;
        }
    }

    public void Disarm(string point)
    {
        lock (armed)
        {
            armed.Remove(point);
        }
    }

    /// <summary>The errno to inject at <paramref name="point"/>, or 0.</summary>
    public int Check(string point)
    {
        lock (armed)
        {
            return armed.TryGetValue(point, out var errno) ? errno : 0;
        }
    }
}
