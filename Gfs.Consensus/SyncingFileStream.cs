namespace Gfs.Consensus;

/// <summary>
/// A write-only file stream that fsyncs every <c>syncEvery</c> bytes, so that a large snapshot never
/// ends with one huge fsync that would stall the write-ahead log's own fsyncs on the same disk.
/// </summary>
internal sealed class SyncingFileStream(string path, long syncEvery = 8L << 20) : Stream
{
    private readonly FileStream file = new(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
    private long unsynced;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => file.Length;

    public override long Position
    {
        get => file.Position;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        file.Write(buffer);
        unsynced += buffer.Length;
        if (unsynced >= syncEvery)
        {
            Flush();
        }
    }

    /// <summary>fsyncs through <see cref="Posix.Sync"/>: a failed sync throws instead of passing silently.</summary>
    public override void Flush()
    {
        file.Flush();
        Posix.Sync(file.SafeFileHandle, path);
        unsynced = 0;
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            file.Dispose();
        }

        base.Dispose(disposing);
    }
}
