using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Gfs.Node.Chunkserver;

/// <summary>
/// The chunkserver's persistent identity, kept in <c>DIR/server-id</c>: created once (written to a
/// temporary file, fsynced, renamed, directory fsynced) and read back on every start, so a restarted
/// chunkserver is recognised with its old replicas.
/// </summary>
internal static partial class ServerIdentity
{
    public const string FileName = "server-id";

    public static string LoadOrCreate(string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName);
        if (File.Exists(path))
        {
            var text = File.ReadAllText(path).Trim();
            if (text.Length is > 0 and <= 128 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                return text;
            }

            throw new InvalidDataException($"{path} does not hold a valid server id");
        }

        var id = "cs-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var temporary = path + ".tmp";
        using (var handle = File.OpenHandle(temporary, FileMode.Create, FileAccess.Write))
        {
            RandomAccess.Write(handle, System.Text.Encoding.ASCII.GetBytes(id + "\n"), 0);
            Sync(handle, temporary);
        }

        File.Move(temporary, path, overwrite: true);
        SyncDirectory(directory);

        return id;
    }

    // .NET's Flush(true) ignores a failed fsync on Linux (DESIGN.md §5): call it ourselves and check.
    private static void Sync(SafeFileHandle handle, string what)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            if (NativeSync((int)handle.DangerousGetHandle()) != 0)
            {
                throw new IOException($"fsync of {what} failed: errno {Marshal.GetLastPInvokeError()}");
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

    private static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var fd = NativeOpen(directory, 0);
        if (fd < 0)
        {
            throw new IOException($"open of {directory} failed: errno {Marshal.GetLastPInvokeError()}");
        }

        try
        {
            if (NativeSync(fd) != 0)
            {
                throw new IOException($"fsync of {directory} failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }
        finally
        {
            _ = NativeClose(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int NativeSync(int fd);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int NativeOpen(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int NativeClose(int fd);
}
