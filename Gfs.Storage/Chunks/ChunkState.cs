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

    public SafeFileHandle File
    {
        get
        {
            var f = file;
            if (f is not null)
            {
                return f;
            }

            lock (this)
            {
                if (file is null)
                {
                    file = System.IO.File.OpenHandle(Path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
                    Io.Posix.AdviseSequential(file);
                }

                return file;
            }
        }
    }

    /// <summary>
    /// The chunk's second handle, opened with O_DIRECT when a direct write first happens (by the mutation holding
    /// <see cref="Mutex"/>); closed with the file. Null until then.
    /// </summary>
    public SafeFileHandle? DirectFile
    {
        get
        {
            lock (this)
            {
                return directFile;
            }
        }
    }

    /// <summary>Keeps <paramref name="handle"/> as the direct handle (disposing any earlier one).</summary>
    public void SetDirectFile(SafeFileHandle handle)
    {
        lock (this)
        {
            directFile?.Dispose();
            directFile = handle;
        }
    }

    public void SetFile(SafeFileHandle handle)
    {
        lock (this)
        {
            file?.Dispose();
            file = handle;
            directFile?.Dispose();
            directFile = null;
            Io.Posix.AdviseSequential(handle);
        }
    }

    public void CloseFile()
    {
        lock (this)
        {
            file?.Dispose();
            file = null;
            directFile?.Dispose();
            directFile = null;
        }
    }
}
