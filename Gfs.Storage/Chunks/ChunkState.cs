using Gfs.Storage.Index;
using Microsoft.Win32.SafeHandles;

namespace Gfs.Storage.Chunks;

/// <summary>The in-memory state of one chunk: the committed record (published after the log commit) and its locks.</summary>
internal sealed class ChunkState(long handle, string path)
{
    private SafeFileHandle? file;
    private SafeFileHandle? directFile;

    public long Handle { get; } = handle;

    public string Path { get; } = path;

    /// <summary>The committed record; replaced, never modified.</summary>
    public volatile ChunkRecord Record = ChunkRecord.Empty;

    /// <summary>Record-append identities of this incarnation of the chunk (null until its first); added to by the committer.</summary>
    public volatile AppendTable? Appends;

    /// <summary>False while a create is not yet committed and once a delete is.</summary>
    public volatile bool Exists;

    public volatile bool Corrupt;

    public string? CorruptReason;

    /// <summary>The corruption has been raised through the store's event.</summary>
    public volatile bool CorruptReported;

    public long LastMutation;

    /// <summary>Serialises mutations of this chunk.</summary>
    public SemaphoreSlim Mutex { get; } = new(1, 1);

    public ChunkGate Gate { get; } = new();

    /// <summary>This chunk's place in <see cref="OpenFileCache"/>'s order while it has open handles; owned by the cache's lock.</summary>
    public LinkedListNode<ChunkState>? OpenNode { get; set; }

    /// <summary>
    /// The chunk's (buffered) handle with a reference taken, opening the file if the cache closed it. Dispose the
    /// lease when done. A mutation holds its lease from its write to its sync, so the descriptor that wrote is the
    /// one that syncs and sees any write-back error (Linux reports it only to descriptors open when it happened).
    /// </summary>
    /// <exception cref="FileNotFoundException">The chunk file is gone.</exception>
    public HandleLease LeaseFile(OpenFileCache cache)
    {
        SafeFileHandle leased;
        lock (this)
        {
            if (file is null)
            {
                file = System.IO.File.OpenHandle(Path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
                Io.Posix.AdviseSequential(file);
            }

            leased = AddRef(file);
        }

        cache.Touch(this);
        return new HandleLease(leased);
    }

    /// <summary>Makes <paramref name="handle"/> (a file just created) the chunk's handle and leases it.</summary>
    public HandleLease AdoptFile(SafeFileHandle handle, OpenFileCache cache)
    {
        SafeFileHandle leased;
        lock (this)
        {
            file?.Dispose();
            file = handle;
            directFile?.Dispose();
            directFile = null;
            Io.Posix.AdviseSequential(handle);
            leased = AddRef(handle);
        }

        cache.Touch(this);
        return new HandleLease(leased);
    }

    /// <summary>The chunk's O_DIRECT handle with a reference taken, or null when none is open.</summary>
    public HandleLease? LeaseDirectFile()
    {
        lock (this)
        {
            return directFile is null ? null : new HandleLease(AddRef(directFile));
        }
    }

    /// <summary>
    /// Keeps <paramref name="handle"/> as the O_DIRECT handle (disposing any earlier one) and leases it. The chunk
    /// is marked used in <paramref name="cache"/> too: the cache may have closed its handles since the caller's
    /// own lease was taken, and a direct handle on a chunk the cache does not list would never be closed.
    /// </summary>
    public HandleLease AdoptDirectFile(SafeFileHandle handle, OpenFileCache cache)
    {
        SafeFileHandle leased;
        lock (this)
        {
            directFile?.Dispose();
            directFile = handle;
            leased = AddRef(handle);
        }

        cache.Touch(this);
        return new HandleLease(leased);
    }

    /// <summary>Closes both handles; a descriptor still leased closes when its last lease is disposed. Call through <see cref="OpenFileCache"/>.</summary>
    public void CloseHandles()
    {
        lock (this)
        {
            file?.Dispose();
            file = null;
            directFile?.Dispose();
            directFile = null;
        }
    }

    private static SafeFileHandle AddRef(SafeFileHandle handle)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        return added ? handle : throw new ObjectDisposedException(nameof(SafeFileHandle));
    }
}
