using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using Gfs.Client;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Transport;

namespace Gfs.IntegrationTests;

/// <summary>
/// Self-describing records for record-append tests, appenders that record what was acknowledged and
/// how long each append took, and the checks every such test makes: each acknowledged record is
/// present exactly once at its offset, nothing else but zero padding is in the file, and every
/// up-to-date replica holds the same bytes.
/// </summary>
internal static class RecordLog
{
    private const uint Magic = 0x52534647; // "GFSR"

    /// <summary>A record: magic, total length, appender, sequence, payload, CRC of all before it.</summary>
    public static byte[] Make(int appender, int sequence, int payload, Random random)
    {
        var record = new byte[20 + payload];
        BinaryPrimitives.WriteUInt32LittleEndian(record, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(record.AsSpan(4), record.Length);
        BinaryPrimitives.WriteInt32LittleEndian(record.AsSpan(8), appender);
        BinaryPrimitives.WriteInt32LittleEndian(record.AsSpan(12), sequence);
        random.NextBytes(record.AsSpan(16, payload));
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(16 + payload), System.IO.Hashing.Crc32.HashToUInt32(record.AsSpan(0, 16 + payload)));
        return record;
    }

    /// <summary>Walks a record file: records back to back, zero padding up to a chunk boundary when a record did not fit.</summary>
    public static List<(int Appender, int Sequence, long Offset)> Parse(byte[] log, int chunkSize)
    {
        var found = new List<(int, int, long)>();
        var at = 0;
        while (at < log.Length)
        {
            if (log.Length - at >= 20 && BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(at)) == Magic)
            {
                var length = BinaryPrimitives.ReadInt32LittleEndian(log.AsSpan(at + 4));
                Assert.InRange(length, 20, log.Length - at);
                var crc = BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(at + length - 4));
                Assert.Equal(System.IO.Hashing.Crc32.HashToUInt32(log.AsSpan(at, length - 4)), crc);
                found.Add((BinaryPrimitives.ReadInt32LittleEndian(log.AsSpan(at + 8)), BinaryPrimitives.ReadInt32LittleEndian(log.AsSpan(at + 12)), at));
                at += length;
                continue;
            }

            // Padding: zeros to the end of this chunk, and nothing else.
            var end = Math.Min(log.Length, ((at / chunkSize) + 1) * chunkSize);
            Assert.True(log.AsSpan(at, end - at).IndexOfAnyExcept((byte)0) < 0, $"garbage at {at}: neither a record nor padding");
            at = end;
        }

        return found;
    }

    /// <summary>Reads a whole file through a fresh client.</summary>
    public static async Task<byte[]> ReadAllAsync(GfsClientOptions options, string path, CancellationToken cancellationToken)
    {
        await using var client = new GfsClient(options);
        await using var reader = await client.OpenReadAsync(path, cancellationToken);
        var bytes = new byte[reader.Length];
        await reader.ReadExactlyAsync(bytes, cancellationToken);
        return bytes;
    }

    /// <summary>
    /// Every acknowledged record is in <paramref name="log"/> exactly once, at the offset it was
    /// acknowledged at; every record found was appended by someone (acknowledged, or failed with an
    /// unknown outcome, in <paramref name="attempted"/>); nothing else but zero padding.
    /// </summary>
    public static void AssertExactlyOnce(byte[] log, int chunkSize, IReadOnlyCollection<Acked> acknowledged, IReadOnlySet<(int Appender, int Sequence)> attempted)
    {
        var found = Parse(log, chunkSize);
        var byId = found.GroupBy(r => (r.Appender, r.Sequence)).ToDictionary(g => g.Key, g => g.Select(r => r.Offset).ToList());
        foreach (var a in acknowledged)
        {
            Assert.True(byId.TryGetValue((a.Appender, a.Sequence), out var offsets), $"acknowledged record {a.Appender}/{a.Sequence} at {a.Offset} is missing");
            Assert.True(offsets.Count == 1, $"record {a.Appender}/{a.Sequence} is in the file {offsets.Count} times (at {string.Join(", ", offsets)})");
            Assert.Equal(a.Offset, offsets[0]);
            Assert.True(log.AsSpan((int)a.Offset, a.Record.Length).SequenceEqual(a.Record), $"record {a.Appender}/{a.Sequence} at {a.Offset} differs");
        }

        foreach (var (id, offsets) in byId)
        {
            Assert.True(attempted.Contains(id), $"record {id.Item1}/{id.Item2} at {offsets[0]} was never appended");
            Assert.True(offsets.Count == 1, $"record {id.Item1}/{id.Item2} (not acknowledged) is in the file {offsets.Count} times");
        }
    }

    /// <summary>
    /// Reads every chunk of <paramref name="path"/> from each of its up-to-date replicas, as the master
    /// lists them, and asserts they hold the same bytes over every acknowledged record. Returns the
    /// fewest up-to-date replicas any chunk has (faults without re-replication leave some short).
    /// </summary>
    public static async Task<int> AssertReplicasAgreeAsync(GfsClient client, string path, int chunkSize, IReadOnlyCollection<Acked> acknowledged, CancellationToken cancellationToken)
    {
        var chunks = await FileSystemFaultTests.ChunksAsync(client, path);
        using var rpc = new RpcClient(new RpcClientOptions());
        var fewest = int.MaxValue;
        foreach (var chunk in chunks)
        {
            Assert.NotEmpty(chunk.Replicas);
            fewest = Math.Min(fewest, chunk.Replicas.Count);
            var copies = new List<(string Server, byte[] Bytes)>();
            foreach (var replica in chunk.Replicas)
            {
                var request = new ReadRequest { Handle = chunk.Handle, Version = chunk.Version, Offset = 0, Length = chunkSize };
                await using var download = await rpc.DownloadAsync<ReadRequest, ReadHeader>(new Uri(replica.Url), ChunkRoutes.Read, request, cancellationToken: cancellationToken);
                var bytes = new byte[download.Length];
                for (var at = 0; at < bytes.Length;)
                {
                    at += await download.ReadAsync(bytes.AsMemory(at), cancellationToken);
                }

                copies.Add((replica.ServerId, bytes));
            }

            var start = (long)chunk.Index * chunkSize;
            foreach (var a in acknowledged.Where(a => a.Offset >= start && a.Offset < start + chunkSize))
            {
                var inChunk = (int)(a.Offset - start);
                foreach (var (server, bytes) in copies)
                {
                    Assert.True(
                        bytes.Length >= inChunk + a.Record.Length && bytes.AsSpan(inChunk, a.Record.Length).SequenceEqual(a.Record),
                        $"replica {server} of chunk {chunk.Index} lacks acknowledged record {a.Appender}/{a.Sequence} at {a.Offset}");
                }
            }
        }

        return fewest;
    }

    /// <summary>An acknowledged record.</summary>
    public sealed record Acked(int Appender, int Sequence, long Offset, byte[] Record);

    /// <summary>
    /// Appenders sharing one file, each with its own client, appending until stopped. Records what was
    /// acknowledged, every record attempted, any failure, and the longest single append.
    /// </summary>
    public sealed class Appenders(GfsClientOptions options, string path, int count, int maxPayload)
    {
        private readonly CancellationTokenSource stop = new();
        private readonly List<Task> tasks = [];
        private long longestTicks;

        public ConcurrentBag<Acked> Acknowledged { get; } = [];

        public ConcurrentDictionary<(int Appender, int Sequence), bool> Attempted { get; } = new();

        public ConcurrentQueue<Exception> Failures { get; } = new();

        /// <summary>The longest a single append took, a fault's stall included.</summary>
        public TimeSpan LongestAppend => TimeSpan.FromTicks(Interlocked.Read(ref longestTicks));

        public void Start()
        {
            for (var a = 0; a < count; a++)
            {
                var appender = a;
                tasks.Add(Task.Run(() => RunAsync(appender)));
            }
        }

        /// <summary>Waits until at least <paramref name="more"/> records more than now are acknowledged.</summary>
        public Task ProgressAsync(int more, TimeSpan timeout)
        {
            var target = Acknowledged.Count + more;
            return Gfs.Testing.Retry.Until($"{more} more appends are acknowledged (failures: {string.Join("; ", Failures.Select(f => f.Message))})", () => Acknowledged.Count >= target || !Failures.IsEmpty, timeout);
        }

        public async Task StopAsync()
        {
            await stop.CancelAsync();
            await Task.WhenAll(tasks);
            stop.Dispose();
        }

        private async Task RunAsync(int appender)
        {
            var random = new Random(appender);
            await using var client = new GfsClient(options);
            for (var sequence = 0; !stop.IsCancellationRequested; sequence++)
            {
                var record = Make(appender, sequence, random.Next(1, maxPayload), random);
                Attempted[(appender, sequence)] = true;
                var started = Stopwatch.GetTimestamp();
                try
                {
                    var offset = await client.AppendRecordAsync(path, record);
                    Acknowledged.Add(new Acked(appender, sequence, offset, record));
                }
                catch (GfsException e)
                {
                    Failures.Enqueue(e);
                    return;
                }

                var took = Stopwatch.GetElapsedTime(started).Ticks;
                var longest = Interlocked.Read(ref longestTicks);
                while (took > longest && Interlocked.CompareExchange(ref longestTicks, took, longest) != longest)
                {
                    longest = Interlocked.Read(ref longestTicks);
                }
            }
        }
    }
}
