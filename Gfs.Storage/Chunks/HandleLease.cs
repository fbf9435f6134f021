using Microsoft.Win32.SafeHandles;

namespace Gfs.Storage.Chunks;

/// <summary>
/// A reference on an open chunk file handle: the descriptor stays open until it is disposed, even if
/// <see cref="OpenFileCache"/> closes the chunk's handles meanwhile.
/// </summary>
internal readonly struct HandleLease : IDisposable
{
    public HandleLease(SafeFileHandle handle)
    {
        Handle = handle;
    }

    public SafeFileHandle Handle { get; }

    public void Dispose() => Handle?.DangerousRelease();
}
