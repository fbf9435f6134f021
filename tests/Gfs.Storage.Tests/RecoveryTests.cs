using Gfs.Storage.Io;

namespace Gfs.Storage.Tests;

/// <summary>Restart after an unclean stop: the index is rebuilt from the checkpoint plus the log.</summary>
public sealed class RecoveryTests
{
    private const int Block = ChunkStoreOptions.BlockSize;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<ChunkStore> CrashAndReopenAsync(StoreHarness h)
    {
        await h.Store!.AbandonAsync();
        return await h.OpenAsync();
    }

    [Fact]
    public async Task Crash_WithoutCheckpoint_ReplaysTheLog()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        await store.AppendAsync(1, StoreHarness.Bytes(70_000, 1), 1, Ct);
        await store.SetVersionAsync(1, 2, Ct);
        await store.CreateAsync(2, 1, Ct);
        await store.DeleteAsync(2, Ct);
        store = await CrashAndReopenAsync(h);
        Assert.Equal([new ChunkInfo(1, 2, 70_000, false)], store.ListChunks());
        Assert.Equal(StoreHarness.Bytes(70_000, 1), await StoreHarness.ReadAllAsync(store, 1));
    }

    [Fact]
    public async Task Crash_AfterCheckpoints_CombinesCheckpointAndLog_AndTruncatesTheLog()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        var expected = new Dictionary<long, List<byte>>();
        for (var round = 0; round < 6; round++)
        {
            for (var c = 1; c <= 3; c++)
            {
                if (round == 0)
                {
                    await store.CreateAsync(c, 1, Ct);
                    expected[c] = [];
                }

                var bytes = StoreHarness.Bytes(40_000, (round * 10) + c);
                await store.AppendAsync(c, bytes, 1, Ct);
                expected[c].AddRange(bytes);
            }

            // Overwrites carry their bytes in the log: enough of them fill several 1 MiB segments.
            var patch = StoreHarness.Bytes(300_000, round);
            await store.WriteAsync(1, 0, patch, 1, Ct);
            for (var i = 0; i < patch.Length; i++)
            {
                if (i < expected[1].Count)
                {
                    expected[1][i] = patch[i];
                }
                else
                {
                    expected[1].Add(patch[i]);
                }
            }

            await store.CheckpointNowAsync();
        }

        Assert.True(store.WalFileBytes <= 4 * 1024 * 1024, $"the log keeps {store.WalFileBytes} bytes after checkpoints");
        await store.AppendAsync(2, StoreHarness.Bytes(10, 99), 1, Ct);
        expected[2].AddRange(StoreHarness.Bytes(10, 99));
        store = await CrashAndReopenAsync(h);
        foreach (var (handle, bytes) in expected)
        {
            Assert.Equal(bytes.ToArray(), await StoreHarness.ReadAllAsync(store, handle));
        }
    }

    [Fact]
    public async Task Start_CutsUncommittedTail_AndDeletesOrphans()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        await store.AppendAsync(1, StoreHarness.Bytes(1000, 1), 1, Ct);
        await h.Store!.AbandonAsync();

        // Bytes written but never committed, and a file no committed chunk owns.
        await using (var f = File.OpenWrite(h.ChunkPath(1)))
        {
            f.Seek(0, SeekOrigin.End);
            f.Write(StoreHarness.Bytes(5000, 2));
        }

        File.WriteAllBytes(h.ChunkPath(77), [1, 2, 3]);
        store = await h.OpenAsync();
        Assert.Equal(1000, new FileInfo(h.ChunkPath(1)).Length);
        Assert.False(File.Exists(h.ChunkPath(77)));
        Assert.Equal(StoreHarness.Bytes(1000, 1), await StoreHarness.ReadAllAsync(store, 1));
        Assert.Null(store.GetChunk(77));
    }

    [Fact]
    public async Task Crash_BetweenOverwriteCommitAndInPlaceWrite_RepeatsTheWriteAtStart()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        var data = StoreHarness.Bytes((2 * Block) + 10, 1);
        await store.AppendAsync(1, data, 1, Ct);
        h.Faults.Arm(Failpoints.CrashBeforeInPlaceWrite, 1);
        var patch = StoreHarness.Bytes(Block, 2);
        var e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.WriteAsync(1, 100, patch, 1, Ct).AsTask());
        Assert.Equal(ChunkStoreError.DiskFailed, e.Error);
        h.Faults.Disarm(Failpoints.CrashBeforeInPlaceWrite);

        // The file still holds the old bytes while the log holds the new checksums and bytes.
        Assert.Equal(data, File.ReadAllBytes(h.ChunkPath(1)));
        store = await CrashAndReopenAsync(h);
        patch.CopyTo(data, 100);
        Assert.Equal(data, await StoreHarness.ReadAllAsync(store, 1));
        Assert.Null(await store.VerifyAsync(1, Ct));
    }

    [Fact]
    public async Task TornInPlaceWrite_IsRepairedFromTheLog()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        var data = StoreHarness.Bytes(3 * Block, 1);
        await store.AppendAsync(1, data, 1, Ct);
        h.Faults.Arm(Failpoints.CrashBeforeInPlaceWrite, 1);
        var patch = StoreHarness.Bytes(2 * Block, 2);
        await Assert.ThrowsAsync<ChunkStoreException>(() => store.WriteAsync(1, Block / 2, patch, 1, Ct).AsTask());
        await h.Store!.AbandonAsync();

        // Half of the in-place write reached the disk before the crash.
        using (var f = File.OpenHandle(h.ChunkPath(1), FileMode.Open, FileAccess.Write))
        {
            RandomAccess.Write(f, patch.AsSpan(0, Block), Block / 2);
        }

        store = await h.OpenAsync();
        patch.CopyTo(data, Block / 2);
        Assert.Equal(data, await StoreHarness.ReadAllAsync(store, 1));
    }

    [Fact]
    public async Task BlockWithNewBytesButOldChecksum_IsDetected_NeverServed()
    {
        // What a crash between an unjournaled in-place write and its metadata commit would leave behind.
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        await store.AppendAsync(1, StoreHarness.Bytes(2 * Block, 1), 1, Ct);
        await h.CloseAsync();
        using (var f = File.OpenHandle(h.ChunkPath(1), FileMode.Open, FileAccess.Write))
        {
            RandomAccess.Write(f, StoreHarness.Bytes(100, 2), Block + 5);
        }

        store = await h.OpenAsync();
        var e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.ReadAsync(1, 0, new byte[2 * Block], Ct).AsTask());
        Assert.Equal(ChunkStoreError.ChecksumMismatch, e.Error);
        Assert.Equal(1, e.Handle);
        Assert.Equal(1, e.BlockIndex);

        // Block 0 is still fine on its own.
        Assert.Equal(Block, await store.ReadAsync(1, 0, new byte[Block], Ct));
    }

    [Fact]
    public async Task Crash_WhileAppending_LeavesOnlyCommittedBytes()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        await store.AppendAsync(1, StoreHarness.Bytes(100, 1), 1, Ct);

        // The append's bytes reach the file, then its data sync "crashes" the store before the log commit.
        h.Faults.Arm(Failpoints.ChunkSync, Posix.EIO);
        await Assert.ThrowsAsync<ChunkStoreException>(() => store.AppendAsync(1, StoreHarness.Bytes(5000, 2), 1, Ct).AsTask());
        h.Faults.Disarm(Failpoints.ChunkSync);
        store = await CrashAndReopenAsync(h);
        Assert.Equal(new ChunkInfo(1, 1, 100, false), store.GetChunk(1));
        Assert.Equal(100, new FileInfo(h.ChunkPath(1)).Length);
        Assert.Equal(StoreHarness.Bytes(100, 1), await StoreHarness.ReadAllAsync(store, 1));
    }

    [Fact]
    public async Task DamagedNewestCheckpoint_FallsBackToThePreviousOne_AndTheLogAfterIt()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        await store.AppendAsync(1, StoreHarness.Bytes(1000, 1), 1, Ct);
        await store.CheckpointNowAsync();
        await store.AppendAsync(1, StoreHarness.Bytes(1000, 2), 1, Ct);
        await store.CreateAsync(2, 5, Ct);
        await store.CheckpointNowAsync();
        await store.SetVersionAsync(2, 6, Ct);
        await store.AbandonAsync();

        var logCheckpoints = new DirectoryInfo(Path.Combine(h.Directory, "index", "checkpoints", "cpr-checkpoints"));
        var newest = logCheckpoints.GetDirectories().OrderByDescending(d => d.LastWriteTimeUtc).First();
        Assert.Equal(2, logCheckpoints.GetDirectories().Length);
        foreach (var file in newest.GetFiles())
        {
            File.WriteAllBytes(file.FullName, new byte[file.Length]); // zeroed: unreadable
        }

        store = await h.OpenAsync();
        Assert.Equal([new ChunkInfo(1, 1, 2000, false), new ChunkInfo(2, 6, 0, false)], store.ListChunks());
        Assert.Equal(StoreHarness.Bytes(1000, 1).Concat(StoreHarness.Bytes(1000, 2)).ToArray(), await StoreHarness.ReadAllAsync(store, 1));
    }

    [Fact]
    public async Task DamagedLogInTheMiddle_IsRefused_NotSkipped()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        for (var i = 0; i < 8; i++)
        {
            await store.WriteAsync(1, 0, StoreHarness.Bytes(300_000, i), 1, Ct); // journaled: about 2.4 MB of log
        }

        await h.Store!.AbandonAsync();
        var segments = Directory.GetFiles(Path.Combine(h.Directory, "wal")).Order(StringComparer.Ordinal).ToList();
        Assert.True(segments.Count >= 3);
        using (var f = File.OpenHandle(segments[1], FileMode.Open, FileAccess.Write))
        {
            RandomAccess.Write(f, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF }, 40);
        }

        var e = await Assert.ThrowsAsync<ChunkStoreException>(() => h.OpenAsync());
        Assert.Equal(ChunkStoreError.DiskFailed, e.Error);
    }
}
