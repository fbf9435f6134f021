using System.Buffers;

namespace Gfs.Node.Chunkserver;

/// <summary>
/// The bytes of one push, held in pooled segments (never one large array) until a mutation uses
/// them or they expire. Reference counted: the buffer holds one reference, each user one more; the
/// segments go back to the pool and the reservation to the buffer when the last one is released.
/// </summary>
internal sealed class BufferedData
{
    private readonly PushBuffer owner;
    private readonly int segmentBytes;
    private readonly List<byte[]> segments = [];
    private int references = 1;
    private long written;

    public BufferedData(PushBuffer owner, long length, int segmentBytes, long createdAt)
    {
        this.owner = owner;
        this.segmentBytes = segmentBytes;
        Length = length;
        TouchedAt = createdAt;
    }

    public long Length { get; }

    /// <summary>Bytes received so far.</summary>
    public long Written => Interlocked.Read(ref written);

    /// <summary>When the data was last stored or used (monotonic timestamp), for the TTL.</summary>
    public long TouchedAt { get; set; }

    /// <summary>
    /// Copies <paramref name="source"/> into the segments and returns the copies, so that they can be
    /// forwarded without a second copy. Only the receiving push writes, one call at a time.
    /// </summary>
    public void Append(ReadOnlySpan<byte> source, List<ReadOnlyMemory<byte>> copied)
    {
        var at = written;
        if (at + source.Length > Length)
        {
            throw new InvalidOperationException("more bytes than declared");
        }

        while (!source.IsEmpty)
        {
            var index = (int)(at / segmentBytes);
            var within = (int)(at % segmentBytes);
            if (index == segments.Count)
            {
                segments.Add(ArrayPool<byte>.Shared.Rent((int)Math.Min(segmentBytes, Length - at)));
            }

            var segment = segments[index];
            var size = (int)Math.Min(segmentBytes, Length - ((long)index * segmentBytes));
            var n = Math.Min(size - within, source.Length);
            source[..n].CopyTo(segment.AsSpan(within, n));
            copied.Add(segment.AsMemory(within, n));
            source = source[n..];
            at += n;
        }

        Interlocked.Exchange(ref written, at);
    }

    /// <summary>The data in order, as segments; valid while a reference is held.</summary>
    public IEnumerable<ReadOnlyMemory<byte>> Segments()
    {
        for (var i = 0; i < segments.Count; i++)
        {
            yield return segments[i].AsMemory(0, (int)Math.Min(segmentBytes, Length - ((long)i * segmentBytes)));
        }
    }

    public bool TryAddReference()
    {
        while (true)
        {
            var current = Volatile.Read(ref references);
            if (current == 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref references, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref references) != 0)
        {
            return;
        }

        foreach (var segment in segments)
        {
            ArrayPool<byte>.Shared.Return(segment);
        }

        segments.Clear();
        owner.Unreserve(Length);
    }
}
