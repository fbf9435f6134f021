namespace Gfs.Storage.Tests;

/// <summary>A store keeps at most MaxOpenFiles chunk files open, whatever the number of chunks it holds.</summary>
public sealed class OpenFileLimitTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// Descriptors of this process open on files under <paramref name="directory"/>. Counting only those keeps
    /// the figure exact while other tests in the same process open and close files of their own.
    /// </summary>
    private static int OpenDescriptors(string directory)
    {
        var count = 0;
        foreach (var fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith(directory, StringComparison.Ordinal))
                {
                    count++;
                }
            }
            catch (IOException)
            {
                // closed while we looked
            }
        }

        return count;
    }

    [Fact]
    public async Task ManyChunks_KeepAtMostMaxOpenFilesOpen_AndAllReadBack()
    {
        await using var h = new StoreHarness();
        h.Options.MaxOpenFiles = 4;
        var store = await h.OpenAsync();
        var chunkFiles = Path.Combine(h.Directory, "chunks") + Path.DirectorySeparatorChar;

        const int chunks = 200;
        for (var i = 1; i <= chunks; i++)
        {
            await store.CreateAsync(i, 1, Ct);
            await store.AppendAsync(i, StoreHarness.Bytes(4096 + i, i), 1, Ct);
        }

        Assert.True(store.OpenChunkFiles <= 4, $"{store.OpenChunkFiles} chunks have open files");
        Assert.True(store.OpenFileEvictions >= chunks - 4);

        // Two descriptors per open chunk at most (buffered + O_DIRECT); 200 chunks would be 400.
        var open = OpenDescriptors(chunkFiles);
        Assert.True(open is >= 1 and <= 2 * 4, $"{open} descriptors open on chunk files of {chunks} chunks");

        for (var i = 1; i <= chunks; i++)
        {
            Assert.Equal(StoreHarness.Bytes(4096 + i, i), await StoreHarness.ReadAllAsync(store, i));
        }

        // Evicted chunks take further writes (their files reopen) and survive a restart.
        for (var i = 1; i <= chunks; i += 7)
        {
            await store.AppendAsync(i, StoreHarness.Bytes(100, -i), 1, Ct);
        }

        store = await h.ReopenAsync();
        for (var i = 1; i <= chunks; i++)
        {
            var expected = StoreHarness.Bytes(4096 + i, i);
            if ((i - 1) % 7 == 0)
            {
                expected = [.. expected, .. StoreHarness.Bytes(100, -i)];
            }

            Assert.Equal(expected, await StoreHarness.ReadAllAsync(store, i));
        }
    }

    [Fact]
    public async Task ConcurrentWritesAndReads_WithOneOpenFile_NeverSeeAClosedHandle()
    {
        await using var h = new StoreHarness();
        h.Options.MaxOpenFiles = 1;
        var store = await h.OpenAsync();
        const int chunks = 16;
        for (var i = 1; i <= chunks; i++)
        {
            await store.CreateAsync(i, 1, Ct);
        }

        // Every operation evicts another chunk's handle while that chunk may be mid-write or mid-read.
        var rounds = 20;
        await Task.WhenAll(Enumerable.Range(1, chunks).Select(i => Task.Run(
            async () =>
            {
                for (var r = 0; r < rounds; r++)
                {
                    await store.AppendAsync(i, StoreHarness.Bytes(8192, (i * 1000) + r), 1, Ct);
                    var n = await store.ReadAsync(i, 0, new byte[8192 * (r + 1)], Ct);
                    Assert.Equal(8192 * (r + 1), n);
                }
            },
            Ct)));

        for (var i = 1; i <= chunks; i++)
        {
            var expected = Enumerable.Range(0, rounds).SelectMany(r => StoreHarness.Bytes(8192, (i * 1000) + r)).ToArray();
            Assert.Equal(expected, await StoreHarness.ReadAllAsync(store, i));
        }

        Assert.False(store.GetStats().Failed);
    }

    [Fact]
    public async Task DeletedAndEvictedChunks_LeaveNoDescriptorBehind()
    {
        await using var h = new StoreHarness();
        h.Options.MaxOpenFiles = 8;
        var store = await h.OpenAsync();
        for (var i = 1; i <= 64; i++)
        {
            await store.CreateAsync(i, 1, Ct);
            await store.AppendAsync(i, StoreHarness.Bytes(8192, i), 1, Ct);
            await store.DeleteAsync(i, Ct);
        }

        Assert.Equal(0, store.OpenChunkFiles);
        Assert.Equal(0, OpenDescriptors(Path.Combine(h.Directory, "chunks") + Path.DirectorySeparatorChar));
    }

    [Fact]
    public void DirectHandle_OpenedAfterItsChunkWasEvicted_PutsTheChunkBackUnderTheBound()
    {
        using var temp = new Gfs.Testing.TempDirectory("gfs-open-files");
        var cache = new Gfs.Storage.Chunks.OpenFileCache(1);
        var a = new Gfs.Storage.Chunks.ChunkState(1, temp.Combine("a"));
        var b = new Gfs.Storage.Chunks.ChunkState(2, temp.Combine("b"));
        File.WriteAllBytes(a.Path, new byte[4096]);
        File.WriteAllBytes(b.Path, new byte[4096]);

        // A mutation of a holds its lease while b's use evicts a; then the mutation opens a's direct handle.
        using (a.LeaseFile(cache))
        {
            using (b.LeaseFile(cache))
            {
                Assert.Null(a.OpenNode);
            }

            using var direct = a.AdoptDirectFile(File.OpenHandle(a.Path, FileMode.Open, FileAccess.ReadWrite), cache);
            Assert.NotNull(a.OpenNode);
        }

        // a is listed again (so its handles will be closed), b was evicted for it: still one chunk open.
        Assert.Equal(1, cache.Count);
        Assert.Null(b.OpenNode);
        Assert.Null(b.LeaseDirectFile());
        cache.Close(a);
        Assert.Null(a.LeaseDirectFile());
    }

    [Fact]
    public void MaxOpenFiles_BelowOne_IsRefused()
    {
        var options = new ChunkStoreOptions { Directory = "/tmp/x", MaxOpenFiles = 0 };
        var e = Assert.Throws<ChunkStoreException>(options.Validate);
        Assert.Equal(ChunkStoreError.InvalidArgument, e.Error);
    }
}
