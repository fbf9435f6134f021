using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Gfs.Storage.Io;

/// <summary>
/// Our own syncs: .NET's Flush(true) returns normally when fsync fails with EIO (DESIGN.md §5),
/// so every durability point goes through these calls and checks the return value and errno.
/// </summary>
internal static partial class Posix
{
    public const int EIO = 5;
    public const int ENOSPC = 28;
    public const int EDQUOT = 122;
    public const int EINVAL = 22;
    private const int EINTR = 4;
    private const int EOPNOTSUPP = 95;
    private const int FALLOC_FL_KEEP_SIZE = 1;
    private const int O_RDWR = 2;
    private const int O_DIRECT = 0x4000; // x86-64 and arm64 Linux
    private const int O_CLOEXEC = 0x80000;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fdatasync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fallocate(int fd, int mode, long offset, long len);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint pwrite(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int posix_fadvise(int fd, long offset, long len, int advice);

    /// <summary>Chunks are read front to back: ask for the larger sequential readahead (a hint; errors are ignored).</summary>
    public static void AdviseSequential(SafeFileHandle file) => WithFd(file, static fd => posix_fadvise(fd, 0, 0, 2 /* POSIX_FADV_SEQUENTIAL */));

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    public static bool IsNoSpace(int errno) => errno is ENOSPC or EDQUOT;

    /// <summary>fdatasync; returns 0 or the errno.</summary>
    public static int DataSync(SafeFileHandle file, string point, Failpoints? faults)
    {
        var injected = faults?.Check(point) ?? 0;
        if (injected != 0)
        {
            return injected;
        }

        return WithFd(file, static fd => Retry(() => fdatasync(fd)));
    }

    /// <summary>fsync of a directory, so that a created or removed name is durable; returns 0 or the errno.</summary>
    public static int SyncDirectory(string path)
    {
        var fd = open(path, 0);
        if (fd < 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        try
        {
            return Retry(() => fsync(fd));
        }
        finally
        {
            _ = close(fd);
        }
    }

    /// <summary>
    /// Opens <paramref name="path"/> a second time with O_DIRECT (writes bypass the page cache); returns 0 or the
    /// errno (EINVAL: the file system does not do direct I/O).
    /// </summary>
    public static int OpenDirect(string path, out SafeFileHandle? file)
    {
        file = null;
        int fd;
        do
        {
            fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == EINTR);

        if (fd < 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        file = new SafeFileHandle(fd, ownsHandle: true);
        return 0;
    }

    /// <summary>
    /// pwrite of all <paramref name="length"/> bytes (repeated after a short write or EINTR); returns 0 or the errno,
    /// with the bytes written before it in <paramref name="written"/>.
    /// </summary>
    public static unsafe int WriteAll(SafeFileHandle file, byte* source, int length, long offset, out int written)
    {
        var added = false;
        written = 0;
        try
        {
            file.DangerousAddRef(ref added);
            var fd = (int)file.DangerousGetHandle();
            while (written < length)
            {
                var n = pwrite(fd, source + written, (nuint)(length - written), offset + written);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR)
                    {
                        continue;
                    }

                    return errno;
                }

                if (n == 0)
                {
                    return EIO; // no progress and no error: never spin
                }

                written += (int)n;
            }

            return 0;
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    /// <summary>fsync of a whole file by path; returns 0 or the errno.</summary>
    public static int SyncFile(string path)
    {
        var fd = open(path, 2 /* O_RDWR */);
        if (fd < 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        try
        {
            return Retry(() => fsync(fd));
        }
        finally
        {
            _ = close(fd);
        }
    }

    /// <summary>
    /// Reserves disk blocks for [offset, offset+length) without changing the file size, so that a
    /// full disk shows up before any byte is written. Returns 0 or the errno (file systems without
    /// fallocate count as success: the write itself then reports ENOSPC).
    /// </summary>
    public static int Reserve(SafeFileHandle file, long offset, long length, string point, Failpoints? faults)
    {
        var injected = faults?.Check(point) ?? 0;
        if (injected != 0)
        {
            return injected;
        }

        var rc = WithFd(file, fd => Retry(() => fallocate(fd, FALLOC_FL_KEEP_SIZE, offset, length)));
        return rc == EOPNOTSUPP ? 0 : rc;
    }

    /// <summary>Allocates [0, length) and sets the file size to it (a preallocated log segment); returns 0 or the errno.</summary>
    public static int Allocate(SafeFileHandle file, long length, string point, Failpoints? faults)
    {
        var injected = faults?.Check(point) ?? 0;
        if (injected != 0)
        {
            return injected;
        }

        var rc = WithFd(file, fd => Retry(() => fallocate(fd, 0, 0, length)));
        if (rc == EOPNOTSUPP)
        {
            RandomAccess.SetLength(file, length);
            return 0;
        }

        return rc;
    }

    private static int WithFd(SafeFileHandle file, Func<int, int> call)
    {
        var added = false;
        try
        {
            file.DangerousAddRef(ref added);
            return call((int)file.DangerousGetHandle());
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    private static int Retry(Func<int> call)
    {
        while (true)
        {
            if (call() == 0)
            {
                return 0;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR)
            {
                return errno;
            }
        }
    }

    /// <summary>The errno behind an <see cref="IOException"/> from RandomAccess, when .NET exposes it.</summary>
    public static bool IsNoSpace(IOException e) =>
        IsNoSpace(e.HResult) || (e.HResult & 0xFFFF) is 112 or 39 || e.Message.Contains("No space left", StringComparison.Ordinal);
}
