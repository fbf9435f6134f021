using System.Buffers;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;

namespace Gfs.Client.Data;

/// <summary>
/// A seekable read stream over a file. Bytes come from piece downloads (<c>chunk/Read</c> of at most
/// <see cref="GfsClientOptions.PieceSize"/>, never across a chunk boundary), nearest replica first;
/// a sequential reader keeps <see cref="GfsClientOptions.ReadAhead"/> pieces downloading ahead, and
/// a seek elsewhere drops them. A replica that fails is passed over for the next one (and reported
/// to the master only for a checksum mismatch); when every replica fails the read throws a typed
/// error, and bytes inside the file's length that no replica holds throw
/// <see cref="ErrorCode.Unwritten"/>: a reader never returns wrong bytes or zeros nobody wrote.
/// </summary>
internal sealed class FileReader : GfsReadStream
{
    private readonly ClientCore core;
    private readonly string path;
    private readonly int chunkSize;
    private readonly long length;
    private readonly int span;
    private readonly Dictionary<long, Piece> pieces = [];
    private long position;
    private long sequentialEnd;
    private bool disposed;

    public FileReader(ClientCore core, string path, int chunkSize, long length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        this.core = core;
        this.path = path;
        this.chunkSize = chunkSize;
        this.length = length;
        span = Math.Min(core.Options.PieceSize, chunkSize);
    }

    public override string Path => path;

    public override bool CanRead => !disposed;

    public override bool CanSeek => !disposed;

    public override bool CanWrite => false;

    public override long Length => length;

    public override long Position
    {
        get => position;
        set => Seek(value, SeekOrigin.Begin);
    }

    /// <summary>Pieces downloaded or downloading (for tests).</summary>
    internal IReadOnlyCollection<long> PieceStarts => pieces.Keys;

    /// <summary>Opens <paramref name="path"/> for reading (fresh attributes and locations from the master).</summary>
    public static async Task<FileReader> OpenAsync(ClientCore core, string path, CancellationToken cancellationToken)
    {
        var (attributes, length) = await MeasureAsync(core, path, cancellationToken).ConfigureAwait(false);
        return new FileReader(core, path, attributes.ChunkSize, length);
    }

    /// <summary>
    /// A file's fresh attributes and its length: the larger of the master's and the end of the last
    /// chunk that holds bytes on a replica (so bytes acknowledged but not yet reported count). A chunk
    /// is never counted full because a later one exists: a writer allocates chunk k + 1 while its last
    /// piece of chunk k still commits, so an empty last chunk sends the measure to the one before it.
    /// </summary>
    public static async Task<(Protocol.Master.EntryAttributes Attributes, long Length)> MeasureAsync(ClientCore core, string path, CancellationToken cancellationToken)
    {
        core.Locations.Invalidate(path);
        var attributes = await core.Locations.GetAttributesAsync(path, cancellationToken).ConfigureAwait(false);
        var length = attributes.Size;
        for (var index = attributes.Count - 1; index >= 0; index--)
        {
            var chunkStart = (long)index * attributes.ChunkSize;
            var held = await ChunkLengthAsync(core, path, index, cancellationToken).ConfigureAwait(false);
            if (held > 0 || chunkStart <= length)
            {
                // This chunk holds bytes, or the master's length already reaches it: nothing before it can end later.
                length = Math.Max(length, chunkStart + held);
                break;
            }
        }

        return (attributes, length);
    }

    /// <summary>The bytes chunk <paramref name="index"/> holds: the largest of the master's figure and an up-to-date replica's.</summary>
    private static async Task<long> ChunkLengthAsync(ClientCore core, string path, int index, CancellationToken cancellationToken)
    {
        var chunk = await core.Locations.GetChunkAsync(path, index, cancellationToken).ConfigureAwait(false)
            ?? throw new GfsException(ErrorCode.Unavailable, $"{path}: the master did not return chunk {index}");
        var held = chunk.Length;
        foreach (var replica in chunk.Replicas)
        {
            try
            {
                var info = await core.Data.InfoAsync(new Uri(replica.Url), chunk.Handle, cancellationToken).ConfigureAwait(false);
                if (info.Version >= chunk.Version)
                {
                    held = Math.Max(held, info.Length);
                    break;
                }
            }
            catch (GfsException) when (!cancellationToken.IsCancellationRequested)
            {
                // Try the next replica; the master's figure is the fallback.
            }
        }

        return held;
    }

    /// <summary>The piece containing <paramref name="offset"/>: [start, end), inside one chunk and the file.</summary>
    internal (long Start, int Length) PieceAt(long offset)
    {
        var chunkStart = offset / chunkSize * chunkSize;
        var start = chunkStart + ((offset - chunkStart) / span * span);
        var end = Math.Min(Math.Min(start + span, chunkStart + chunkSize), length);
        return (start, (int)(end - start));
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (destination.IsEmpty || position >= length)
        {
            return 0;
        }

        var (start, pieceLength) = PieceAt(position);
        var piece = GetOrStart(start, pieceLength);
        if (position == sequentialEnd || position == 0)
        {
            var next = start + pieceLength;
            for (var i = 0; i < core.Options.ReadAhead && next < length; i++)
            {
                var (s, l) = PieceAt(next);
                GetOrStart(s, l);
                next = s + l;
            }
        }

        Fetched data;
        try
        {
            data = await piece.Download.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // A failed piece is fetched afresh by the next read.
            Drop(start);
            throw;
        }

        var available = start + data.Length;
        if (position >= available)
        {
            // Never zeros in place of bytes nobody wrote. A later read fetches the piece afresh (the writer may have finished).
            Drop(start);
            throw new GfsException(
                ErrorCode.Unwritten,
                $"{path}: no replica of chunk {start / chunkSize} holds the bytes [{available}, {start + pieceLength}) inside the file's length {length}: they were never written (a writer stopped part-way) or are not written yet");
        }

        var n = (int)Math.Min(destination.Length, available - position);
        data.Buffer.AsSpan((int)(position - start), n).CopyTo(destination.Span);
        position += n;
        sequentialEnd = position;
        if (position >= start + pieceLength)
        {
            Drop(start);
        }

        return n;
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var target = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => position + offset,
            SeekOrigin.End => length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        if (target < 0)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"{path}: cannot seek to {target}");
        }

        if (target != position)
        {
            // Read-ahead only pays for sequential access: keep the piece being entered, drop the rest.
            var keep = target < length ? PieceAt(target).Start : -1;
            foreach (var start in pieces.Keys.Where(s => s != keep).ToList())
            {
                Drop(start);
            }

            position = target;
        }

        return position;
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException("a Gfs read stream is read-only");

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("a Gfs read stream is read-only");

    protected override void Dispose(bool disposing)
    {
        if (disposing && !disposed)
        {
            disposed = true;
            foreach (var start in pieces.Keys.ToList())
            {
                Drop(start);
            }
        }

        base.Dispose(disposing);
    }

    private Piece GetOrStart(long start, int pieceLength)
    {
        if (!pieces.TryGetValue(start, out var piece))
        {
            var cancel = new CancellationTokenSource();
            piece = new Piece(FetchAsync(start, pieceLength, cancel.Token), cancel);
            pieces[start] = piece;
        }

        return piece;
    }

    private void Drop(long start)
    {
        if (pieces.Remove(start, out var piece))
        {
            piece.Cancel.Cancel();
            _ = piece.Download.ContinueWith(
                static (t, state) =>
                {
                    if (t.IsCompletedSuccessfully)
                    {
                        ArrayPool<byte>.Shared.Return(t.Result.Buffer);
                    }

                    ((CancellationTokenSource)state!).Dispose();
                },
                piece.Cancel,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    /// <summary>
    /// Downloads one piece into a pooled buffer, falling back replica by replica. The result is short
    /// only when every replica answered and none holds more: the rest was never written (or not yet).
    /// </summary>
    private async Task<Fetched> FetchAsync(long start, int pieceLength, CancellationToken cancellationToken)
    {
        await Task.Yield();
        var buffer = ArrayPool<byte>.Shared.Rent(pieceLength);
        try
        {
            var index = (int)(start / chunkSize);
            var offset = start % chunkSize;
            var received = await ReadChunkRetryingAsync(index, offset, buffer.AsMemory(0, pieceLength), (int)(start / Math.Max(1, pieceLength)), cancellationToken).ConfigureAwait(false);
            return new Fetched(buffer, received);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    /// <summary>
    /// <see cref="ReadChunkAsync"/> again, with backoff, while no replica could serve for a reason that
    /// passes (unreachable, timed out, just restarted and not yet checked by the leader), until the
    /// client's operation timeout: a moment without a serving replica is not the end of a read.
    /// </summary>
    private async Task<int> ReadChunkRetryingAsync(int index, long offset, Memory<byte> destination, int spread, CancellationToken cancellationToken)
    {
        var started = core.Time.GetTimestamp();
        var backoff = new Backoff(core.Options.InitialRetryDelay, core.Options.MaxRetryDelay);
        while (true)
        {
            try
            {
                return await ReadChunkAsync(index, offset, destination, spread, cancellationToken).ConfigureAwait(false);
            }
            catch (GfsException e) when (e.Code is ErrorCode.Unavailable or ErrorCode.DeadlineExceeded && !cancellationToken.IsCancellationRequested)
            {
                var delay = backoff.Next();
                if (core.Time.GetElapsedTime(started) + delay > core.Options.OperationTimeout)
                {
                    throw;
                }

                core.Locations.InvalidateChunk(path, index);
                await Task.Delay(delay, core.Time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Reads from the chunk's replicas in order, starting at the <paramref name="spread"/>-th of the
    /// nearest ones (those on the first replica's host), so that the pieces a sequential reader
    /// fetches ahead come from different equally near servers at once. A replica that holds fewer
    /// bytes than asked (it is behind, or the bytes were never written) leaves the rest to the next
    /// one. Returns the bytes received: fewer than asked only when every replica answered. Only a
    /// checksum mismatch is reported to the master: every other failure (unreachable, timed out,
    /// cancelled, a stale version or missing chunk in our cached locations, an offset past the
    /// replica's end) is no fault of the replica's copy, and a report would leave it out of the
    /// chunk's next lease for good.
    /// </summary>
    private async Task<int> ReadChunkAsync(int index, long offset, Memory<byte> destination, int spread, CancellationToken cancellationToken)
    {
        var location = await core.Locations.GetChunkAsync(path, index, cancellationToken).ConfigureAwait(false)
            ?? throw new GfsException(ErrorCode.NotFound, $"{path}: chunk {index} does not exist (the file changed?)");
        var refreshed = false;
        var bad = new HashSet<string>(StringComparer.Ordinal);
        GfsException? last = null;
        var checksum = false;
        var filled = 0;
        var order = SpreadOrder(location.Replicas, spread);
        for (var i = 0; i < order.Count; i++)
        {
            var replica = order[i];
            if (bad.Contains(replica.ServerId))
            {
                continue;
            }

            try
            {
                var request = new ReadRequest { Handle = location.Handle, Version = location.Version, Offset = offset + filled, Length = destination.Length - filled };
                filled += await core.Data.ReadAsync(new Uri(replica.Url), request, destination[filled..], cancellationToken).ConfigureAwait(false);
                if (filled == destination.Length)
                {
                    return filled;
                }
            }
            catch (GfsException e) when (e.Code == ErrorCode.InvalidArgument && !cancellationToken.IsCancellationRequested)
            {
                // The offset lies past this replica's end: it holds none of the rest.
            }
            catch (GfsException e) when (!cancellationToken.IsCancellationRequested)
            {
                last = e;
                core.Locations.InvalidateChunk(path, index);
                if (e.Code is ErrorCode.StaleVersion or ErrorCode.NotFound && !refreshed)
                {
                    // Perhaps our locations are older than the chunk: look again once, and go through the fresh list.
                    refreshed = true;
                    location = await core.Locations.GetChunkAsync(path, index, cancellationToken).ConfigureAwait(false)
                        ?? throw new GfsException(ErrorCode.NotFound, $"{path}: chunk {index} no longer exists");
                    order = SpreadOrder(location.Replicas, spread);
                    i = -1;
                    continue;
                }

                bad.Add(replica.ServerId);
                if (e.Code == ErrorCode.ChecksumMismatch)
                {
                    checksum = true;
                    core.ReportReplica(location.Handle, location.Version, replica.ServerId, ReplicaProblem.ChecksumMismatch, e.Message);
                }
            }
        }

        if (last is null && order.Count > 0)
        {
            return filled; // every replica answered: none holds more
        }

        var code = checksum ? ErrorCode.ChecksumMismatch : last?.Code is { } c && c != ErrorCode.DeadlineExceeded ? c : ErrorCode.Unavailable;
        throw new GfsException(code, $"{path}: no replica of chunk {index} could serve [{offset}, {offset + destination.Length}); last error: {last?.Message ?? "the chunk has no live replica"}", last);
    }

    private sealed record Piece(Task<Fetched> Download, CancellationTokenSource Cancel);

    /// <summary>A downloaded piece: its pooled buffer and how many bytes the replicas held of it.</summary>
    private readonly record struct Fetched(byte[] Buffer, int Length);

    /// <summary>The replicas with the nearest group (same host as the first) rotated by <paramref name="spread"/>; the rest after them in order.</summary>
    internal static List<ReplicaLocation> SpreadOrder(List<ReplicaLocation> replicas, int spread)
    {
        if (replicas.Count < 2)
        {
            return replicas;
        }

        var host = HostOf(replicas[0].Url);
        var near = 1;
        while (near < replicas.Count && string.Equals(HostOf(replicas[near].Url), host, StringComparison.OrdinalIgnoreCase))
        {
            near++;
        }

        var order = new List<ReplicaLocation>(replicas.Count);
        var first = (int)((uint)spread % (uint)near);
        for (var i = 0; i < near; i++)
        {
            order.Add(replicas[(first + i) % near]);
        }

        order.AddRange(replicas.Skip(near));
        return order;
    }

    private static string HostOf(string url) => Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.Host : url;
}
