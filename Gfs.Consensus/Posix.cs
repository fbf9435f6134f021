using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Gfs.Consensus;

/// <summary>
/// fsync through libc with its result checked. .NET's <c>FileStream.Flush(true)</c> returns
/// normally when fsync fails with EIO on Linux (DESIGN.md §5), so nothing that must be durable
/// relies on it: a failed sync throws, and the caller does not treat the file as written.
/// </summary>
internal static partial class Posix
{
    private const int OpenReadOnly = 0;
    private const int OpenDirectory = 0x10000;

    /// <summary>Makes the file's data and metadata durable, or throws <see cref="IOException"/>.</summary>
    public static void Sync(SafeHandle handle, string what)
    {
        ArgumentNullException.ThrowIfNull(handle);
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (fsync((int)handle.DangerousGetHandle()) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new IOException($"fsync of {what} failed: errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)})", errno);
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Makes a directory's entries (a rename or a new file) durable, or throws <see cref="IOException"/>.</summary>
    public static void SyncDirectory(string directory)
    {
        var fd = open(directory, OpenReadOnly | OpenDirectory);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"opening directory {directory} to fsync it failed: errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)})", errno);
        }

        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        Sync(handle, $"directory {directory}");
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);
}
