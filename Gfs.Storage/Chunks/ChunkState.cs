using Gfs.Storage.Index;
using Microsoft.Win32.SafeHandles;

namespace Gfs.Storage.Chunks;

/// <summary>The in-memory state of one chunk: the committed record (published after the log commit) and its locks.</summary>
internal sealed class ChunkState(long handle, string path)
{
    private SafeFileHandle? file;

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

    public void SetFile(SafeFileHandle handle)
    {
        lock (this)
        {
            file?.Dispose();
            file = handle;
            Io.Posix.AdviseSequential(handle);
        }
    }

    public void CloseFile()
    {
        lock (this)
        {
            file?.Dispose();
            file = null;
        }
    }
}
