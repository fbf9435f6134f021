using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using Gfs.Storage.Checksums;
using Gfs.Storage.Io;
using Microsoft.Win32.SafeHandles;

namespace Gfs.Storage.Wal;

/// <summary>
/// The metadata write-ahead log: preallocated segment files of checksummed records, appended in
/// batches (one write and one fdatasync per batch: group commit). Addresses are global byte
/// positions; a segment file is named by its start address. Every segment opens with a header
/// record naming where the previous valid record ended, so a lost or damaged segment in the
/// middle is detected instead of silently skipped. Each process run starts a fresh segment, so a
/// torn tail of an earlier run is never overwritten and never resurrected.
/// </summary>
internal sealed class WriteAheadLog : IDisposable
{
    private const uint Magic = 0x4C415747; // "GWAL"
    private const int HeaderSize = 24;     // magic u32, length u32, address u64, crc u32, reserved u32
    private const byte SegmentHeaderType = 0xFF;
    private const string Extension = ".wal";

    private readonly string directory;
    private readonly long segmentSize;
    private readonly Failpoints? faults;
    private readonly SortedDictionary<long, long> segments = new(); // start -> file length
    private SafeFileHandle? current;
    private long currentStart;
    private long currentLength;
    private long nextStart;

    private WriteAheadLog(string directory, long segmentSize, Failpoints? faults)
    {
        this.directory = directory;
        this.segmentSize = segmentSize;
        this.faults = faults;
    }

    /// <summary>Address just past the last appended record.</summary>
    public long EndAddress { get; private set; }

    /// <summary>Bytes of segment files on disk.</summary>
    public long FileBytes => segments.Values.Sum();

    /// <summary>Bytes appended since the log was opened.</summary>
    public long BytesAppended { get; private set; }

    /// <summary>
    /// Opens the log, hands every record at or after <paramref name="replayFrom"/> to
    /// <paramref name="apply"/> in order, and starts a new segment for this run.
    /// </summary>
    public static WriteAheadLog Open(string directory, long segmentSize, Failpoints? faults, long replayFrom, Action<long, ReadOnlySpan<byte>> apply)
    {
        Directory.CreateDirectory(directory);
        var log = new WriteAheadLog(directory, segmentSize, faults);
        log.Replay(replayFrom, apply);
        return log;
    }

    private static string SegmentName(long start) => start.ToString("x16", CultureInfo.InvariantCulture) + Extension;

    private void Replay(long replayFrom, Action<long, ReadOnlySpan<byte>> apply)
    {
        foreach (var path in Directory.EnumerateFiles(directory, "*" + Extension))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            if (long.TryParse(name, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var start))
            {
                segments[start] = new FileInfo(path).Length;
            }
        }

        long? lastEnd = null;
        var reachedReplayPoint = replayFrom == 0;
        var nextStart = 0L;
        var invalid = new List<long>();
        var starts = segments.Keys.ToList();
        for (var i = 0; i < starts.Count; i++)
        {
            var start = starts[i];
            nextStart = Math.Max(nextStart, start + segments[start]);
            using var file = File.OpenHandle(Path.Combine(directory, SegmentName(start)), FileMode.Open, FileAccess.Read);
            var length = segments[start];
            var offset = 0L;
            var first = true;
            long end = start;
            var header = new byte[HeaderSize];
            byte[] payload = [];
            while (offset + HeaderSize <= length)
            {
                if (RandomAccess.Read(file, header, offset) < HeaderSize)
                {
                    break;
                }

                var magic = BinaryPrimitives.ReadUInt32LittleEndian(header);
                var len = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(4));
                var address = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(8));
                var crc = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(16));
                if (magic != Magic || len <= 0 || offset + HeaderSize + len > length || address != start + offset)
                {
                    break;
                }

                if (payload.Length < len)
                {
                    payload = new byte[len];
                }

                if (RandomAccess.Read(file, payload.AsSpan(0, len), offset + HeaderSize) < len)
                {
                    break;
                }

                var body = payload.AsSpan(0, len);
                if (Crc32C.Append(Crc32C.Compute(header.AsSpan(4, 12)), body) != crc)
                {
                    break;
                }

                offset += HeaderSize + len;
                end = start + offset;
                var recordStart = end - HeaderSize - len;
                if (first)
                {
                    first = false;
                    if (body[0] != SegmentHeaderType || len != 9)
                    {
                        throw Corrupt($"segment {SegmentName(start)} does not start with a segment header");
                    }

                    var prevEnd = BinaryPrimitives.ReadInt64LittleEndian(body[1..]);
                    if (lastEnd is { } le && prevEnd != le)
                    {
                        throw Corrupt($"segment {SegmentName(start)} follows position {prevEnd:x} but the log before it ends at {le:x}: records are missing");
                    }

                    if (prevEnd == replayFrom || end == replayFrom)
                    {
                        reachedReplayPoint = true;
                    }

                    continue;
                }

                if (recordStart >= replayFrom && reachedReplayPoint)
                {
                    apply(address, body);
                }

                if (end == replayFrom)
                {
                    reachedReplayPoint = true;
                }
            }

            if (first)
            {
                // No valid header: a segment whose creation a crash interrupted. Only the last may be so.
                if (i != starts.Count - 1)
                {
                    throw Corrupt($"segment {SegmentName(start)} has no valid header but later segments exist");
                }

                invalid.Add(start);
                continue;
            }

            lastEnd = end;
        }

        if (!reachedReplayPoint)
        {
            throw Corrupt($"the index checkpoint points at log position {replayFrom:x}, which the log does not contain");
        }

        foreach (var start in invalid)
        {
            File.Delete(Path.Combine(directory, SegmentName(start)));
            segments.Remove(start);
        }

        // What was just replayed may so far live only in the page cache (written by a run killed before its sync).
        // Make it durable before this run builds on it, or a later power loss could take it away from under newer records.
        foreach (var start in segments.Keys)
        {
            var rc = Posix.SyncFile(Path.Combine(directory, SegmentName(start)));
            if (rc != 0)
            {
                throw new ChunkStoreException(ChunkStoreError.DiskFailed, $"fsync of log segment {SegmentName(start)} failed: errno {rc}");
            }
        }

        var dirRc = Posix.SyncDirectory(directory);
        if (dirRc != 0)
        {
            throw new ChunkStoreException(ChunkStoreError.DiskFailed, $"fsync of {directory} failed: errno {dirRc}");
        }

        // The new segment for this run is created by the first append, so a store opens (and serves reads) on a full disk.
        EndAddress = lastEnd ?? replayFrom;
        this.nextStart = Math.Max(nextStart, EndAddress);
        BytesAppended = 0;
    }

    private static ChunkStoreException Corrupt(string message) =>
        new(ChunkStoreError.DiskFailed, "write-ahead log damaged: " + message);

    private static int RecordSize(int payloadLength) => HeaderSize + payloadLength;

    /// <summary>Creates and syncs a new segment; on a full disk throws NoSpace and changes nothing.</summary>
    private void StartSegment(long start, long size)
    {
        var path = Path.Combine(directory, SegmentName(start));
        var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        var ok = false;
        try
        {
            var rc = Posix.Allocate(file, size, Failpoints.WalAllocate, faults);
            if (rc != 0)
            {
                if (Posix.IsNoSpace(rc))
                {
                    throw new ChunkStoreException(ChunkStoreError.NoSpace, "no space for a new write-ahead log segment");
                }

                throw new ChunkStoreException(ChunkStoreError.DiskFailed, $"fallocate of {path} failed: errno {rc}");
            }

            // Write real zeros over the segment (as PostgreSQL does with its WAL): appends then overwrite
            // written blocks, so each commit's fdatasync is a plain data flush, without the journal commit that
            // converting fallocate's unwritten extents would cost.
            var zeros = new byte[Math.Min(size, 1024 * 1024)];
            for (long at = 0; at < size; at += zeros.Length)
            {
                RandomAccess.Write(file, zeros.AsSpan(0, (int)Math.Min(zeros.Length, size - at)), at);
            }

            var header = new byte[9];
            header[0] = SegmentHeaderType;
            BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(1), EndAddress);
            var buffer = new byte[RecordSize(header.Length)];
            Frame(buffer, start, header);
            RandomAccess.Write(file, buffer, 0);
            Sync(file);
            var dirRc = Posix.SyncDirectory(directory);
            if (dirRc != 0)
            {
                throw new ChunkStoreException(ChunkStoreError.DiskFailed, $"fsync of {directory} failed: errno {dirRc}");
            }

            ok = true;
        }
        finally
        {
            if (!ok)
            {
                file.Dispose();
                try
                {
                    File.Delete(path);
                }
                catch (IOException)
                {
                }
            }
        }

        current?.Dispose();
        current = file;
        currentStart = start;
        currentLength = size;
        segments[start] = size;
        EndAddress = start + RecordSize(9);
    }

    private void Sync(SafeFileHandle file)
    {
        var rc = Posix.DataSync(file, Failpoints.WalSync, faults);
        if (rc != 0)
        {
            throw new ChunkStoreException(ChunkStoreError.DiskFailed, $"fdatasync of the write-ahead log failed: errno {rc}");
        }
    }

    private static void Frame(Span<byte> destination, long address, ReadOnlySpan<byte> payload)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], payload.Length);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], address);
        var crc = Crc32C.Append(Crc32C.Compute(destination.Slice(4, 12)), payload);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], crc);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], 0);
        payload.CopyTo(destination[HeaderSize..]);
    }

    /// <summary>
    /// Appends a batch of records durably (one write, one fdatasync). Throws NoSpace (nothing
    /// written) when a new segment cannot be allocated, DiskFailed when a write or sync fails.
    /// </summary>
    public void Append(IReadOnlyList<ReadOnlyMemory<byte>> payloads)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        long total = 0;
        foreach (var p in payloads)
        {
            total += RecordSize(p.Length);
        }

        if (current is null || EndAddress + total > currentStart + currentLength)
        {
            var next = current is null ? nextStart : currentStart + currentLength;
            StartSegment(next, Math.Max(segmentSize, total + RecordSize(9)));
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)total);
        try
        {
            var at = 0;
            var address = EndAddress;
            foreach (var p in payloads)
            {
                Frame(buffer.AsSpan(at), address + at, p.Span);
                at += RecordSize(p.Length);
            }

            try
            {
                RandomAccess.Write(current!, buffer.AsSpan(0, at), EndAddress - currentStart);
            }
            catch (IOException e)
            {
                throw new ChunkStoreException(ChunkStoreError.DiskFailed, "write to the write-ahead log failed: " + e.Message, inner: e);
            }

            Sync(current!);
            EndAddress += at;
            BytesAppended += at;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Deletes segments that end at or before <paramref name="address"/> (never the current one).</summary>
    public void TruncateBefore(long address)
    {
        var removed = false;
        var newest = segments.Count == 0 ? -1 : segments.Keys.Max();
        foreach (var (start, length) in segments.ToList())
        {
            if (start != newest && (current is null || start != currentStart) && start + length <= address)
            {
                File.Delete(Path.Combine(directory, SegmentName(start)));
                segments.Remove(start);
                removed = true;
            }
        }

        if (removed)
        {
            _ = Posix.SyncDirectory(directory);
        }
    }

    private bool disposed;

    public void Dispose()
    {
        disposed = true;
        current?.Dispose();
        current = null;
    }
}
