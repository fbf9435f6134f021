using System.Buffers.Binary;

namespace Gfs.Storage.Chunks;

/// <summary>
/// One chunk's record-append identities: (client id, sequence) → offset of the appends that named one, oldest first.
/// Bounded: a client's oldest entry goes when it has <see cref="ChunkStoreOptions.AppendsPerClient"/>, and the oldest
/// entry of all when the chunk has more than <see cref="ChunkStoreOptions.AppendsPerChunk"/>. Both depend only on the
/// order of the appends applied, so replicas that applied the same appends keep the same table. Changed only by the
/// committer (after the append's log record is durable); read by any thread.
/// </summary>
internal sealed class AppendTable
{
    /// <summary>Serialised size of one entry: client id i64, sequence i64, offset i64 (little endian).</summary>
    public const int EntrySize = 24;

    private readonly List<AppendEntry> entries = [];
    private readonly Dictionary<long, int> perClient = [];
    private readonly Lock sync = new();

    public int Count
    {
        get
        {
            lock (sync)
            {
                return entries.Count;
            }
        }
    }

    /// <summary>Where the append (client, sequence) was written, or null when it is not (or no longer) known.</summary>
    public long? Find(long clientId, long sequence)
    {
        lock (sync)
        {
            // Newest first: a retry usually names a recent append.
            for (var i = entries.Count - 1; i >= 0; i--)
            {
                var e = entries[i];
                if (e.ClientId == clientId && e.Sequence == sequence)
                {
                    return e.Offset;
                }
            }

            return null;
        }
    }

    /// <summary>Adds an applied append (its identity is not in the table), forgetting what the bounds no longer hold.</summary>
    public void Add(AppendEntry entry)
    {
        lock (sync)
        {
            var count = perClient.GetValueOrDefault(entry.ClientId);
            if (count == ChunkStoreOptions.AppendsPerClient)
            {
                entries.RemoveAt(entries.FindIndex(e => e.ClientId == entry.ClientId));
                count--;
            }

            entries.Add(entry);
            perClient[entry.ClientId] = count + 1;
            if (entries.Count > ChunkStoreOptions.AppendsPerChunk)
            {
                var oldest = entries[0];
                entries.RemoveAt(0);
                if (--perClient[oldest.ClientId] == 0)
                {
                    perClient.Remove(oldest.ClientId);
                }
            }
        }
    }

    /// <summary>Bytes <see cref="Write"/> takes.</summary>
    public int SerializedSize => 4 + (Count * EntrySize);

    /// <summary>Writes the entry count (u32) and the entries, oldest first; returns the bytes written.</summary>
    public int Write(Span<byte> destination)
    {
        lock (sync)
        {
            BinaryPrimitives.WriteInt32LittleEndian(destination, entries.Count);
            var at = 4;
            foreach (var e in entries)
            {
                BinaryPrimitives.WriteInt64LittleEndian(destination[at..], e.ClientId);
                BinaryPrimitives.WriteInt64LittleEndian(destination[(at + 8)..], e.Sequence);
                BinaryPrimitives.WriteInt64LittleEndian(destination[(at + 16)..], e.Offset);
                at += EntrySize;
            }

            return at;
        }
    }

    /// <summary>Reads what <see cref="Write"/> wrote (adding in the same order yields the same table).</summary>
    public static AppendTable Read(ReadOnlySpan<byte> source)
    {
        var count = BinaryPrimitives.ReadInt32LittleEndian(source);
        if (count < 0 || count > ChunkStoreOptions.AppendsPerChunk || 4 + (count * EntrySize) > source.Length)
        {
            throw new ChunkStoreException(ChunkStoreError.DiskFailed, $"index record holds an append table of {count} entries");
        }

        var table = new AppendTable();
        for (var i = 0; i < count; i++)
        {
            var at = 4 + (i * EntrySize);
            table.Add(new AppendEntry(
                BinaryPrimitives.ReadInt64LittleEndian(source[at..]),
                BinaryPrimitives.ReadInt64LittleEndian(source[(at + 8)..]),
                BinaryPrimitives.ReadInt64LittleEndian(source[(at + 16)..])));
        }

        return table;
    }
}
