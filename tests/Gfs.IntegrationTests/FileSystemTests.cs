using System.Collections.Concurrent;
using System.Security.Cryptography;
using Gfs.Client;
using Gfs.Client.Protocol;
using Gfs.Testing;

namespace Gfs.IntegrationTests;

/// <summary>One cluster (3 masters, 4 chunkservers) shared by the tests that do not kill anything.</summary>
public sealed class FileSystemClusterFixture : IAsyncLifetime
{
    public GfsCluster Cluster { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Cluster = await GfsCluster.StartAsync(4);

    public async ValueTask DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>The file system end to end on real processes: write, read, span chunks, concurrent writers and appenders.</summary>
public sealed class FileSystemTests(FileSystemClusterFixture fixture) : IClassFixture<FileSystemClusterFixture>
{
    private const int MiB = 1 << 20;

    private GfsCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Put_and_get_of_200_MiB_give_back_the_same_bytes()
    {
        var data = RandomBytes(200 * MiB, seed: 1);
        await using var client = new GfsClient(Cluster.ClientOptions);
        await WriteFileAsync(client, "/big.bin", data, writeSize: MiB);

        var stat = await client.StatAsync("/big.bin");
        Assert.Equal(data.Length, stat.Size);
        Assert.Equal(4, stat.Count); // 200 MiB in 64 MiB chunks

        await using var reader = await client.OpenReadAsync("/big.bin");
        Assert.Equal(data.Length, reader.Length);
        Assert.Equal(SHA256.HashData(data), await SHA256.HashDataAsync(reader, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_file_spanning_many_small_chunks_reads_back_at_any_offset()
    {
        var data = RandomBytes((10 * MiB) + 12345, seed: 2);
        await using var client = new GfsClient(Cluster.ClientOptions);
        await using (var writer = await client.CreateAsync("/spans.bin", new GfsCreateOptions { ChunkSize = MiB }))
        {
            // Odd write sizes so that writes straddle chunk boundaries.
            var at = 0;
            var sizes = new[] { 1, 777_777, 3 * MiB, 4095, 100_001 };
            for (var i = 0; at < data.Length; i++)
            {
                var n = Math.Min(sizes[i % sizes.Length], data.Length - at);
                await writer.WriteAsync(data.AsMemory(at, n), TestContext.Current.CancellationToken);
                at += n;
            }
        }

        var stat = await client.StatAsync("/spans.bin");
        Assert.Equal(data.Length, stat.Size);
        Assert.Equal(11, stat.Count);

        await using var reader = await client.OpenReadAsync("/spans.bin");
        var random = new Random(3);
        var buffer = new byte[300_000];
        for (var i = 0; i < 40; i++)
        {
            var offset = random.NextInt64(data.Length);
            reader.Seek(offset, SeekOrigin.Begin);
            var n = await reader.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, TestContext.Current.CancellationToken);
            Assert.Equal((int)Math.Min(buffer.Length, data.Length - offset), n);
            Assert.True(data.AsSpan((int)offset, n).SequenceEqual(buffer.AsSpan(0, n)), $"bytes at {offset} differ");
        }
    }

    [Fact]
    public async Task Sixteen_writers_and_eight_appenders_lose_nothing_and_duplicate_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = new GfsClient(Cluster.ClientOptions);
        await client.MkdirAsync("/concurrent", parents: true, ct);
        await using (var created = await client.CreateAsync("/concurrent/log", new GfsCreateOptions { ChunkSize = MiB }, ct))
        {
            // an empty record file with 1 MiB chunks, so that appends pad and move on often
        }

        var files = Enumerable.Range(0, 16).Select(i => (Path: $"/concurrent/file-{i}", Data: RandomBytes((3 * MiB) + (i * 1000), seed: 100 + i))).ToArray();
        var acknowledged = new ConcurrentBag<(int Appender, int Sequence, long Offset, byte[] Record)>();
        var writers = files.Select(f => Task.Run(() => WriteFileAsync(client, f.Path, f.Data, writeSize: 256 * 1024), ct));
        var appenders = Enumerable.Range(0, 8).Select(a => Task.Run(async () =>
        {
            var random = new Random(a);
            for (var s = 0; s < 60; s++)
            {
                var record = RecordLog.Make(a, s, random.Next(1, 200_000), random);
                var offset = await client.AppendRecordAsync("/concurrent/log", record, ct);
                acknowledged.Add((a, s, offset, record));
            }
        }, ct));
        await Task.WhenAll(writers.Concat(appenders));

        foreach (var (path, data) in files)
        {
            await using var reader = await client.OpenReadAsync(path, ct);
            Assert.Equal(SHA256.HashData(data), await SHA256.HashDataAsync(reader, ct));
        }

        byte[] log;
        await using (var reader = await client.OpenReadAsync("/concurrent/log", ct))
        {
            log = new byte[reader.Length];
            await reader.ReadExactlyAsync(log, ct);
        }

        var found = RecordLog.Parse(log, MiB);
        Assert.Equal(480, acknowledged.Count);
        foreach (var (appender, sequence, offset, record) in acknowledged)
        {
            var copies = found.Where(r => r.Appender == appender && r.Sequence == sequence).ToList();
            Assert.True(copies.Count == 1, $"record {appender}/{sequence} found {copies.Count} times");
            Assert.Equal(offset, copies[0].Offset);
            Assert.True(log.AsSpan((int)offset, record.Length).SequenceEqual(record), $"record {appender}/{sequence} differs");
        }

        Assert.Equal(acknowledged.Count, found.Count);
    }

    [Fact]
    public async Task A_writer_whose_file_was_replaced_fails_with_FileReplaced_and_never_touches_the_new_file()
    {
        var ct = TestContext.Current.CancellationToken;
        const int chunkSize = 64 * 1024;
        const string path = "/replaced.bin";
        var first = RandomBytes(10_000, seed: 21);
        var other = RandomBytes(3000, seed: 22);
        await using var a = new GfsClient(Cluster.ClientOptions);
        await using var b = new GfsClient(Cluster.ClientOptions);
        var writer = await a.CreateAsync(path, new GfsCreateOptions { ChunkSize = chunkSize }, ct);
        await writer.WriteAsync(first, ct);
        await writer.FlushAsync(ct);

        // B replaces the file while A's stream is open and writes other bytes.
        await using (var replacing = await b.CreateAsync(path, new GfsCreateOptions { ChunkSize = chunkSize, Overwrite = true }, ct))
        {
            await replacing.WriteAsync(other, ct);
        }

        // A writes on, past its first chunk. Its lease on the deleted file's chunk 0 may still take a
        // few bytes (or be revoked already); a new lease, the allocation of chunk 1 and its length
        // reports all name the file A opened, and are refused.
        var refused = await Assert.ThrowsAsync<GfsException>(async () =>
        {
            await writer.WriteAsync(RandomBytes(2 * chunkSize, seed: 24), ct);
            await writer.FlushAsync(ct);
        });
        Assert.Equal(ErrorCode.FileReplaced, refused.Code);
        await writer.DisposeAsync();
        await a.DisposeAsync();

        await using var c = new GfsClient(Cluster.ClientOptions);
        var stat = await c.StatAsync(path, ct);
        Assert.Equal(other.Length, stat.Size);
        Assert.Equal(1, stat.Count); // A allocated nothing in B's file
        await using var reader = await c.OpenReadAsync(path, ct);
        Assert.Equal(other.Length, reader.Length);
        var back = new byte[other.Length];
        await reader.ReadExactlyAsync(back, ct);
        Assert.Equal(other, back);
    }

    internal static async Task WriteFileAsync(GfsClient client, string path, byte[] data, int writeSize, GfsCreateOptions? options = null)
    {
        await using var writer = await client.CreateAsync(path, options);
        for (var at = 0; at < data.Length; at += writeSize)
        {
            await writer.WriteAsync(data.AsMemory(at, Math.Min(writeSize, data.Length - at)));
        }
    }

    internal static byte[] RandomBytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }
}
