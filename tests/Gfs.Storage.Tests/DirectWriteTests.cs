using System.Diagnostics;
using System.Security.Cryptography;
using Gfs.Storage.Io;

namespace Gfs.Storage.Tests;

/// <summary>
/// Appended bytes at aligned offsets go through O_DIRECT (from the caller's memory when it is aligned, through a
/// bounce buffer otherwise); everything else stays buffered. The two must never disagree about a byte: every
/// sequence is read back through the store, through a fresh handle, through a fresh O_DIRECT handle (the disk,
/// bypassing the page cache) and by another process.
/// </summary>
public sealed class DirectWriteTests
{
    private const int Unit = AlignedBufferPool.Alignment;
    private const int MiB = 1024 * 1024;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AlignedAppend_FromAlignedMemory_IsWrittenDirect_WithoutBounceCopy()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        Assert.True(store.DirectWritesActive, $"O_DIRECT is refused in {h.Directory}; these tests need a disk that takes it");
        await store.CreateAsync(1, 1, Ct);
        var source = AlignedBufferPool.Shared.Rent(256 * 1024);
        try
        {
            var bytes = StoreHarness.Bytes(256 * 1024, 1);
            bytes.CopyTo(source.Memory.Span);
            await store.AppendAsync(1, source.Memory[..bytes.Length], 1, Ct);

            Assert.Equal(bytes.Length, store.DirectBytes);
            Assert.Equal(0, store.BouncedBytes);
            await AssertEverywhereAsync(h, store, 1, bytes);
        }
        finally
        {
            AlignedBufferPool.Shared.Return(source);
        }
    }

    [Fact]
    public async Task UnalignedSource_IsBouncedInSegments_AndTheTailIsBuffered()
    {
        await using var h = new StoreHarness(chunkSize: 16 * MiB);
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);

        // Starts one byte into an array: never 4096-aligned. 9 MiB + 123 = three bounce segments and a tail.
        var backing = StoreHarness.Bytes(9 * MiB + 124, 2);
        var data = backing.AsMemory(1);
        await store.AppendAsync(1, data, 1, Ct);

        var aligned = data.Length / Unit * Unit;
        Assert.Equal(aligned, store.DirectBytes);
        Assert.Equal(aligned, store.BouncedBytes);
        await AssertEverywhereAsync(h, store, 1, data.ToArray());

        store = await h.ReopenAsync();
        Assert.Equal(data.ToArray(), await StoreHarness.ReadAllAsync(store, 1));
        Assert.Null(await store.VerifyAsync(1, Ct));
    }

    [Fact]
    public async Task ShortOrUnalignedAppends_StayBuffered()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        var expected = new List<byte>();
        foreach (var (length, seed) in new[] { (Unit - 1, 1), (3 * Unit, 2), (100, 3) })
        {
            var bytes = StoreHarness.Bytes(length, seed);
            await store.AppendAsync(1, bytes, 1, Ct);
            expected.AddRange(bytes);
        }

        // Shorter than a unit at offset 0, then two appends at unaligned offsets.
        Assert.Equal(0, store.DirectBytes);
        await AssertEverywhereAsync(h, store, 1, [.. expected]);
    }

    /// <summary>
    /// Buffered tails, direct heads at the next aligned offset, reads in between (which fill the page cache and
    /// its readahead up to the file's end), overwrites in place and writes at the end: after every step the store,
    /// a fresh handle and the disk itself (O_DIRECT read) hold the model's bytes.
    /// </summary>
    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public async Task MixedSequences_OfBufferedAndDirectWrites_ReadBackTheSameEverywhere(int seed)
    {
        await using var h = new StoreHarness(chunkSize: 4 * MiB);
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        var model = new List<byte>();
        var random = new Random(seed);
        var aligned = AlignedBufferPool.Shared.Rent(MiB);
        try
        {
            for (var step = 0; step < 40 && model.Count < 4 * MiB - 300_000; step++)
            {
                var roll = random.Next(6);
                if (roll == 0 && model.Count > 0)
                {
                    // Overwrite in place (journaled, buffered), sometimes running past the end.
                    var offset = random.Next(model.Count);
                    var bytes = StoreHarness.Bytes(random.Next(1, 20_000), random.Next());
                    await store.WriteAsync(1, offset, bytes, 1, Ct);
                    model.RemoveRange(offset, Math.Min(bytes.Length, model.Count - offset));
                    model.InsertRange(offset, bytes);
                }
                else if (roll == 1)
                {
                    // Fill up to the next aligned offset, so the next aligned append follows a buffered tail.
                    var toBoundary = (Unit - (model.Count % Unit)) % Unit;
                    var bytes = StoreHarness.Bytes(toBoundary == 0 ? Unit : toBoundary, random.Next());
                    await store.AppendAsync(1, bytes, 1, Ct);
                    model.AddRange(bytes);
                }
                else if (roll == 2)
                {
                    // Aligned memory (the push buffer's case): whole units and a tail.
                    var length = random.Next(1, 64) * Unit + (random.Next(2) == 0 ? 0 : random.Next(1, Unit));
                    var bytes = StoreHarness.Bytes(length, random.Next());
                    bytes.CopyTo(aligned.Memory.Span);
                    await store.WriteAsync(1, model.Count, aligned.Memory[..length], 1, Ct);
                    model.AddRange(bytes);
                }
                else
                {
                    var bytes = StoreHarness.Bytes(random.Next(1, 200_000), random.Next());
                    await store.AppendAsync(1, bytes, 1, Ct);
                    model.AddRange(bytes);
                }

                if (random.Next(2) == 0)
                {
                    Assert.Equal(model.ToArray(), await StoreHarness.ReadAllAsync(store, 1));
                }

                Assert.Equal(model.ToArray(), ReadDirect(h.ChunkPath(1), model.Count));
            }

            Assert.True(store.DirectBytes > 0, "the sequence never took the direct path");
            await AssertEverywhereAsync(h, store, 1, [.. model]);
            store = await h.ReopenAsync();
            Assert.Equal(model.ToArray(), await StoreHarness.ReadAllAsync(store, 1));
            Assert.Null(await store.VerifyAsync(1, Ct));
        }
        finally
        {
            AlignedBufferPool.Shared.Return(aligned);
        }
    }

    [Fact]
    public async Task RefusedDirectOpen_TurnsDirectWritesOffForTheStore_AndWritesStillWork()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        await store.CreateAsync(2, 1, Ct);

        // What tmpfs before Linux 6.6 (and some other file systems) answer to O_DIRECT.
        h.Faults.Arm(Failpoints.ChunkOpenDirect, Posix.EINVAL);
        var a = StoreHarness.Bytes(64 * 1024, 1);
        await store.AppendAsync(1, a, 1, Ct);
        Assert.False(store.DirectWritesActive);

        // Remembered for the store: no further attempts, even once the file system would say yes.
        h.Faults.Disarm(Failpoints.ChunkOpenDirect);
        var b = StoreHarness.Bytes(64 * 1024, 2);
        await store.AppendAsync(2, b, 1, Ct);
        Assert.False(store.DirectWritesActive);
        Assert.Equal(0, store.DirectBytes);
        await AssertEverywhereAsync(h, store, 1, a);
        await AssertEverywhereAsync(h, store, 2, b);
        Assert.False(store.GetStats().Failed);
    }

    [Fact]
    public async Task DirectWrites_CanBeSwitchedOff()
    {
        await using var h = new StoreHarness();
        h.Options.DirectWrites = false;
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        var a = StoreHarness.Bytes(128 * 1024, 1);
        await store.AppendAsync(1, a, 1, Ct);
        Assert.False(store.DirectWritesActive);
        Assert.Equal(0, store.DirectBytes);
        await AssertEverywhereAsync(h, store, 1, a);
    }

    [Fact]
    public async Task DirectWriteRefusedPartWay_FinishesBuffered_AndStaysBuffered()
    {
        await using var h = new StoreHarness(chunkSize: 16 * MiB);
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);

        // The first bounce segment is written, the second refused with EINVAL (once).
        h.Faults.Arm(Failpoints.ChunkWrite, Posix.EINVAL, passes: 1, failures: 1);
        var data = StoreHarness.Bytes(9 * MiB, 3);
        await store.AppendAsync(1, data, 1, Ct);
        Assert.Equal(4 * MiB, store.DirectBytes);
        Assert.False(store.DirectWritesActive);
        Assert.False(store.GetStats().Failed);
        await AssertEverywhereAsync(h, store, 1, data);
    }

    [Fact]
    public async Task NoSpaceDuringADirectWrite_CutsTheFileBack_AndChangesNothing()
    {
        await using var h = new StoreHarness(chunkSize: 16 * MiB);
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        var first = StoreHarness.Bytes(2 * Unit, 1);
        await store.AppendAsync(1, first, 1, Ct);

        // A short direct write: one 4 MiB segment lands, the next fails.
        h.Faults.Arm(Failpoints.ChunkWrite, Posix.ENOSPC, passes: 1);
        var e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.AppendAsync(1, StoreHarness.Bytes(9 * MiB, 2), 1, Ct).AsTask());
        Assert.Equal(ChunkStoreError.NoSpace, e.Error);
        Assert.Equal(first.Length, store.GetChunk(1)!.Value.Length);
        Assert.Equal(first.Length, new FileInfo(h.ChunkPath(1)).Length);
        Assert.False(store.GetStats().Failed);

        h.Faults.Disarm(Failpoints.ChunkWrite);
        var second = StoreHarness.Bytes(3 * Unit + 5, 3);
        Assert.Equal(first.Length, await store.AppendAsync(1, second, 1, Ct));
        await AssertEverywhereAsync(h, store, 1, [.. first, .. second]);
    }

    [Fact]
    public async Task NoSpaceAtReservation_WritesNoByte_DirectOrNot()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        h.Faults.Arm(Failpoints.ChunkAllocate, Posix.ENOSPC);
        var e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.AppendAsync(1, StoreHarness.Bytes(256 * 1024, 1), 1, Ct).AsTask());
        Assert.Equal(ChunkStoreError.NoSpace, e.Error);
        Assert.Equal(0, store.DirectBytes);
        Assert.Equal(0, new FileInfo(h.ChunkPath(1)).Length);

        h.Faults.Disarm(Failpoints.ChunkAllocate);
        var a = StoreHarness.Bytes(256 * 1024, 2);
        await store.AppendAsync(1, a, 1, Ct);
        Assert.Equal(a.Length, store.DirectBytes);
        await AssertEverywhereAsync(h, store, 1, a);
    }

    [Theory]
    [InlineData(Failpoints.ChunkWrite)]
    [InlineData(Failpoints.ChunkSync)]
    public async Task IoErrorAfterADirectWrite_FailsTheDisk_AndOnlyCommittedBytesSurvive(string point)
    {
        await using var h = new StoreHarness(chunkSize: 16 * MiB);
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        var first = StoreHarness.Bytes(5 * Unit, 1);
        await store.AppendAsync(1, first, 1, Ct);

        h.Faults.Arm(point, Posix.EIO, passes: point == Failpoints.ChunkWrite ? 1 : 0);
        var e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.AppendAsync(1, StoreHarness.Bytes(9 * MiB, 2), 1, Ct).AsTask());
        Assert.Equal(ChunkStoreError.DiskFailed, e.Error);
        Assert.True(store.GetStats().Failed);
        Assert.True(store.DirectBytes > first.Length, "the failed append had written directly before the error");
        h.Faults.Disarm(point);

        store = await h.ReopenAsync();
        Assert.Equal(first.Length, store.GetChunk(1)!.Value.Length);
        await AssertEverywhereAsync(h, store, 1, first);
    }

    [Fact]
    public async Task DeletedAndRecreatedChunk_GetsAFreshDirectHandle()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        await store.AppendAsync(1, StoreHarness.Bytes(64 * 1024, 1), 1, Ct);
        await store.DeleteAsync(1, Ct);
        await store.CreateAsync(1, 2, Ct);
        var b = StoreHarness.Bytes(64 * 1024, 2);
        await store.AppendAsync(1, b, 2, Ct);
        Assert.Equal(2 * 64 * 1024, store.DirectBytes);
        await AssertEverywhereAsync(h, store, 1, b);
    }

    /// <summary>The chunk's bytes through the store (verified), a fresh buffered handle, a fresh O_DIRECT handle and another process.</summary>
    private static async Task AssertEverywhereAsync(StoreHarness h, ChunkStore store, long handle, byte[] expected)
    {
        Assert.Equal(expected, await StoreHarness.ReadAllAsync(store, handle));
        Assert.Null(await store.VerifyAsync(handle, Ct));
        var path = h.ChunkPath(handle);
        Assert.Equal(expected, await File.ReadAllBytesAsync(path, Ct));
        Assert.Equal(expected, ReadDirect(path, expected.Length));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(expected)), await Sha256OfAsync(path));
    }

    /// <summary>Reads the file around the page cache; the dirty pages of buffered writes are flushed first by the kernel.</summary>
    private static byte[] ReadDirect(string path, int length)
    {
        Assert.Equal(0, Posix.OpenDirect(path, out var file));
        using (file)
        {
            var buffer = AlignedBufferPool.Shared.Rent(Math.Max(length + Unit, Unit));
            try
            {
                var total = 0;
                while (true)
                {
                    var end = Math.Min(buffer.Capacity, total + 4 * MiB);
                    var n = end > total ? RandomAccess.Read(file!, buffer.Memory.Span[total..end], total) : 0;
                    total += n;
                    if (n == 0 || total % Unit != 0)
                    {
                        break; // the end of the file
                    }
                }

                Assert.Equal(length, total);
                return buffer.Memory.Span[..total].ToArray();
            }
            finally
            {
                AlignedBufferPool.Shared.Return(buffer);
            }
        }
    }

    private static async Task<string> Sha256OfAsync(string path)
    {
        var start = new ProcessStartInfo("sha256sum") { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(path);
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);
        Assert.Equal(0, process.ExitCode);
        return output.Split(' ')[0];
    }
}
