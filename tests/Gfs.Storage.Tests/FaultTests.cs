using System.Diagnostics;
using Gfs.Storage.Io;
using Gfs.Testing;

namespace Gfs.Storage.Tests;

/// <summary>Full disks and failing syncs, injected in process and (for ENOSPC) on a real size-limited tmpfs.</summary>
public sealed class FaultTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(Failpoints.ChunkAllocate)]
    [InlineData(Failpoints.WalAllocate)]
    public async Task NoSpace_IsTyped_RecordsNothing_AndWorksAgainOnceSpaceReturns(string point)
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        await store.AppendAsync(1, StoreHarness.Bytes(1000, 1), 1, Ct);
        h.Faults.Arm(point, Posix.ENOSPC);

        // Journaled overwrites (their bytes go to the log) need new log segments quickly; appends need chunk space.
        var expected = StoreHarness.Bytes(1000, 1).ToList();
        var e = await Assert.ThrowsAsync<ChunkStoreException>(async () =>
        {
            for (var i = 0; i < 20; i++)
            {
                var bytes = StoreHarness.Bytes(200_000, 2 + i);
                if (point == Failpoints.WalAllocate)
                {
                    await store.WriteAsync(1, 500, bytes, 1, Ct);
                    expected = [.. expected.Take(500), .. bytes];
                }
                else
                {
                    await store.AppendAsync(1, bytes, 1, Ct);
                    expected.AddRange(bytes);
                }
            }
        });
        Assert.Equal(ChunkStoreError.NoSpace, e.Error);
        var length = store.GetChunk(1)!.Value.Length;
        Assert.Equal(expected.Count, length);
        Assert.Equal(length, new FileInfo(h.ChunkPath(1)).Length);
        Assert.Equal(expected.ToArray(), await StoreHarness.ReadAllAsync(store, 1));
        Assert.False(store.GetStats().Failed);

        h.Faults.Disarm(point);
        var offset = await store.AppendAsync(1, StoreHarness.Bytes(10, 3), 1, Ct);
        Assert.Equal(length, offset);
        store = await h.ReopenAsync();
        Assert.Equal(length + 10, store.GetChunk(1)!.Value.Length);
        Assert.Null(await store.VerifyAsync(1, Ct));
    }

    [Theory]
    [InlineData(Failpoints.ChunkSync)]
    [InlineData(Failpoints.WalSync)]
    public async Task FailedSync_FailsTheStore_WhichRefusesEveryLaterMutation(string point)
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        await store.AppendAsync(1, StoreHarness.Bytes(1000, 1), 1, Ct);
        h.Faults.Arm(point, Posix.EIO);
        var e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.AppendAsync(1, StoreHarness.Bytes(1000, 2), 1, Ct).AsTask());
        Assert.Equal(ChunkStoreError.DiskFailed, e.Error);

        // The fault is gone but the store never retries and continues.
        h.Faults.Disarm(point);
        Assert.True(store.GetStats().Failed);
        Assert.NotNull(store.FailureReason);
        foreach (var call in new Func<Task>[]
        {
            () => store.AppendAsync(1, new byte[1], 1, Ct).AsTask(),
            () => store.WriteAsync(1, 0, new byte[1], 1, Ct).AsTask(),
            () => store.CreateAsync(2, 1, Ct).AsTask(),
            () => store.SetVersionAsync(1, 5, Ct).AsTask(),
            () => store.DeleteAsync(1, Ct).AsTask(),
        })
        {
            Assert.Equal(ChunkStoreError.DiskFailed, (await Assert.ThrowsAsync<ChunkStoreException>(call)).Error);
        }

        // Reads of acknowledged data still work.
        Assert.Equal(1000, store.GetChunk(1)!.Value.Length);
        Assert.Equal(StoreHarness.Bytes(1000, 1), await StoreHarness.ReadAllAsync(store, 1));
        await store.AbandonAsync();
        store = await h.OpenAsync();
        var info = store.GetChunk(1)!.Value;
        if (point == Failpoints.ChunkSync)
        {
            // The data sync failed before anything was logged: the index never claims those bytes.
            Assert.Equal(new ChunkInfo(1, 1, 1000, false), info);
        }
        else
        {
            // The data was synced and the log record written, only its sync failed: the unacknowledged
            // append may or may not be there after a restart, but never half or wrong.
            Assert.Contains(info.Length, new long[] { 1000, 2000 });
        }

        Assert.Equal(StoreHarness.Bytes(1000, 1).Concat(StoreHarness.Bytes(1000, 2)).Take((int)info.Length).ToArray(), await StoreHarness.ReadAllAsync(store, 1));
    }

    [Fact]
    public async Task RealFullDisk_OnSmallTmpfs_IsNoSpace_AndRecoversWhenSpaceReturns()
    {
        using var mount = TmpfsMount.TryCreate(24);
        FaultTools.Require(mount is not null, "mounting a tmpfs needs root (mount -t tmpfs -o size=24m)");
        await using var h = new StoreHarness(directory: mount!.Path);
        h.Options.WalSegmentSize = 256 * 1024;
        var store = await h.OpenAsync();
        var acknowledged = new Dictionary<long, List<byte>>();
        ChunkStoreException? full = null;
        for (long handle = 1; handle < 100 && full is null; handle++)
        {
            try
            {
                await store.CreateAsync(handle, 1, Ct);
                acknowledged[handle] = [];
                for (var i = 0; i < 8; i++)
                {
                    var bytes = StoreHarness.Bytes(128 * 1024, (int)((handle * 10) + i));
                    await store.AppendAsync(handle, bytes, 1, Ct);
                    acknowledged[handle].AddRange(bytes);
                }
            }
            catch (ChunkStoreException e)
            {
                full = e;
            }
        }

        Assert.NotNull(full);
        Assert.Equal(ChunkStoreError.NoSpace, full.Error);
        Assert.False(store.GetStats().Failed);
        foreach (var (handle, bytes) in acknowledged)
        {
            Assert.Equal(bytes.ToArray(), await StoreHarness.ReadAllAsync(store, handle));
        }

        // Space returns: the store works again, and everything survives a restart.
        await store.DeleteAsync(acknowledged.Keys.First(), Ct);
        acknowledged.Remove(acknowledged.Keys.First());
        await store.CreateAsync(1000, 1, Ct);
        await store.AppendAsync(1000, StoreHarness.Bytes(100_000, 5), 1, Ct);
        acknowledged[1000] = [.. StoreHarness.Bytes(100_000, 5)];
        store = await h.ReopenAsync();
        foreach (var (handle, bytes) in acknowledged)
        {
            Assert.Equal(bytes.ToArray(), await StoreHarness.ReadAllAsync(store, handle));
        }

        await h.CloseAsync();
    }

    [Fact]
    public async Task CheckpointOnAFullDisk_NeitherHangsNorFailsTheStore_AndSucceedsLater()
    {
        using var mount = TmpfsMount.TryCreate(16);
        FaultTools.Require(mount is not null, "mounting a tmpfs needs root (mount -t tmpfs -o size=16m)");
        await using var h = new StoreHarness(directory: Path.Combine(mount!.Path, "store"));
        h.Options.WalSegmentSize = 256 * 1024;
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        await store.AppendAsync(1, StoreHarness.Bytes(100_000, 1), 1, Ct);
        await store.CheckpointNowAsync().WaitAsync(TimeSpan.FromSeconds(60), Ct);
        for (var i = 0; i < 5; i++)
        {
            await store.SetVersionAsync(1, 2 + i, Ct);
        }

        // Fill the file system completely.
        var filler = Path.Combine(mount.Path, "filler");
        await using (var f = new FileStream(filler, FileMode.Create, FileAccess.Write, FileShare.None, 0))
        {
            var block = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    f.Write(block);
                }
            }
            catch (IOException)
            {
            }
        }

        await store.CheckpointNowAsync().WaitAsync(TimeSpan.FromSeconds(60), Ct);
        Assert.Equal(1, store.CheckpointFailures);
        Assert.False(store.GetStats().Failed, store.FailureReason);
        var e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.AppendAsync(1, StoreHarness.Bytes(200_000, 2), 6, Ct).AsTask());
        Assert.Equal(ChunkStoreError.NoSpace, e.Error);

        File.Delete(filler);
        await store.AppendAsync(1, StoreHarness.Bytes(50_000, 3), 6, Ct);
        await store.CheckpointNowAsync().WaitAsync(TimeSpan.FromSeconds(60), Ct);
        Assert.Equal(1, store.CheckpointFailures);
        await store.AbandonAsync();
        store = await h.OpenAsync();
        Assert.Equal(new ChunkInfo(1, 6, 150_000, false), store.GetChunk(1));
        Assert.Equal(StoreHarness.Bytes(100_000, 1).Concat(StoreHarness.Bytes(50_000, 3)).ToArray(), await StoreHarness.ReadAllAsync(store, 1));
        await h.CloseAsync();
    }

    /// <summary>A size-limited tmpfs under the temp folder, unmounted on dispose.</summary>
    private sealed class TmpfsMount : IDisposable
    {
        private readonly TempDirectory temp = new("gfs-tmpfs");

        public string Path => temp.Path;

        public static TmpfsMount? TryCreate(int megabytes)
        {
            var m = new TmpfsMount();
            if (Run("mount", $"-t tmpfs -o size={megabytes}m tmpfs {m.Path}") == 0)
            {
                return m;
            }

            m.temp.Dispose();
            return null;
        }

        private static int Run(string file, string args)
        {
            try
            {
                using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
                p.WaitForExit();
                return p.ExitCode;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return -1;
            }
        }

        public void Dispose()
        {
            Run("umount", Path);
            temp.Dispose();
        }
    }
}
