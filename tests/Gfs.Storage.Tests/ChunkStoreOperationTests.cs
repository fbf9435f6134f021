namespace Gfs.Storage.Tests;

public sealed class ChunkStoreOperationTests
{
    private const int Block = ChunkStoreOptions.BlockSize;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Create_ThenEmptyChunkReadsNothing()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 7, Ct);
        Assert.Equal(new ChunkInfo(1, 7, 0, false), store.GetChunk(1));
        Assert.Equal(0, await store.ReadAsync(1, 0, new byte[100], Ct));
        Assert.True(File.Exists(h.ChunkPath(1)));
    }

    [Fact]
    public async Task Create_Twice_IsAlreadyExists()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        var e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.CreateAsync(1, 1, Ct).AsTask());
        Assert.Equal(ChunkStoreError.AlreadyExists, e.Error);
    }

    [Fact]
    public async Task UnknownHandle_IsNotFound_ForEveryOperation()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        var calls = new Func<Task>[]
        {
            () => store.WriteAsync(9, 0, new byte[1], 1, Ct).AsTask(),
            () => store.AppendAsync(9, new byte[1], 1, Ct).AsTask(),
            () => store.ReadAsync(9, 0, new byte[1], Ct).AsTask(),
            () => store.SetVersionAsync(9, 2, Ct).AsTask(),
            () => store.DeleteAsync(9, Ct).AsTask(),
            () => store.VerifyAsync(9, Ct).AsTask(),
        };
        foreach (var call in calls)
        {
            var e = await Assert.ThrowsAsync<ChunkStoreException>(call);
            Assert.Equal(ChunkStoreError.NotFound, e.Error);
            Assert.Equal(9, e.Handle);
        }

        Assert.Null(store.GetChunk(9));
    }

    [Fact]
    public async Task Append_ReturnsOffsets_AndPartialLastBlockReadsBack()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(5, 1, Ct);
        var a = StoreHarness.Bytes(1000, 1);
        var b = StoreHarness.Bytes(Block + 500, 2);
        Assert.Equal(0, await store.AppendAsync(5, a, 1, Ct));
        Assert.Equal(1000, await store.AppendAsync(5, b, 1, Ct));
        Assert.Equal(1000 + Block + 500, store.GetChunk(5)!.Value.Length);
        Assert.Equal(a.Concat(b).ToArray(), await StoreHarness.ReadAllAsync(store, 5));
    }

    [Fact]
    public async Task Write_AcrossBlockBoundaries_ReadsBackEveryRange()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        var data = StoreHarness.Bytes((3 * Block) + 123, 3);
        await store.WriteAsync(1, 0, data, 1, Ct);
        foreach (var (offset, length) in new[] { (0, 1), (Block - 1, 2), (Block - 10, Block + 20), (2 * Block, Block + 123), (100, (3 * Block) + 23), ((3 * Block) + 122, 1) })
        {
            var buffer = new byte[length];
            Assert.Equal(length, await store.ReadAsync(1, offset, buffer, Ct));
            Assert.Equal(data.AsSpan(offset, length).ToArray(), buffer);
        }
    }

    [Fact]
    public async Task Overwrite_InsideCommittedData_ChangesOnlyThoseBytes_AndSurvivesReopen()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        var data = StoreHarness.Bytes((2 * Block) + 300, 4);
        await store.AppendAsync(1, data, 1, Ct);
        var patch = StoreHarness.Bytes(Block, 5);
        await store.WriteAsync(1, Block - 100, patch, 1, Ct);        // spans blocks 0 and 1, partially
        patch.CopyTo(data, Block - 100);
        var tail = StoreHarness.Bytes(500, 6);
        await store.WriteAsync(1, (2 * Block) + 100, tail, 1, Ct);   // overwrites the partial last block and extends it
        var expected = data.AsSpan(0, (2 * Block) + 100).ToArray().Concat(tail).ToArray();
        Assert.Equal(expected, await StoreHarness.ReadAllAsync(store, 1));
        Assert.Null(await store.VerifyAsync(1, Ct));

        store = await h.ReopenAsync();
        Assert.Equal(expected, await StoreHarness.ReadAllAsync(store, 1));
        Assert.Null(await store.VerifyAsync(1, Ct));
    }

    [Fact]
    public async Task ReadPastTheEnd_IsClippedOrOutOfRange()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        await store.AppendAsync(1, StoreHarness.Bytes(100, 1), 1, Ct);
        Assert.Equal(50, await store.ReadAsync(1, 50, new byte[1000], Ct));
        Assert.Equal(0, await store.ReadAsync(1, 100, new byte[10], Ct));
        var e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.ReadAsync(1, 101, new byte[10], Ct).AsTask());
        Assert.Equal(ChunkStoreError.OutOfRange, e.Error);
        e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.ReadAsync(1, -1, new byte[10], Ct).AsTask());
        Assert.Equal(ChunkStoreError.OutOfRange, e.Error);
        e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.ReadAsync(1, 0, -5, (_, _) => default, Ct).AsTask());
        Assert.Equal(ChunkStoreError.InvalidArgument, e.Error);
    }

    [Fact]
    public async Task WriteBeyondTheEnd_OrPastChunkSize_IsOutOfRange_AndChangesNothing()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        await store.AppendAsync(1, StoreHarness.Bytes(100, 1), 1, Ct);
        var e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.WriteAsync(1, 101, new byte[1], 1, Ct).AsTask());
        Assert.Equal(ChunkStoreError.OutOfRange, e.Error);
        e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.WriteAsync(1, -1, new byte[1], 1, Ct).AsTask());
        Assert.Equal(ChunkStoreError.OutOfRange, e.Error);
        e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.AppendAsync(1, new byte[StoreHarness.SmallChunk - 99], 1, Ct).AsTask());
        Assert.Equal(ChunkStoreError.OutOfRange, e.Error);
        Assert.Equal(100, store.GetChunk(1)!.Value.Length);

        // Exactly full is fine; one more byte is not.
        Assert.Equal(100, await store.AppendAsync(1, new byte[StoreHarness.SmallChunk - 100], 1, Ct));
        e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.AppendAsync(1, new byte[1], 1, Ct).AsTask());
        Assert.Equal(ChunkStoreError.OutOfRange, e.Error);
    }

    [Fact]
    public async Task WritePast64MiB_IsOutOfRange()
    {
        await using var h = new StoreHarness(ChunkStoreOptions.MaxChunkSize);
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        var piece = new byte[16 * 1024 * 1024];
        for (var i = 0; i < 4; i++)
        {
            await store.AppendAsync(1, piece, 1, Ct);
        }

        Assert.Equal(ChunkStoreOptions.MaxChunkSize, store.GetChunk(1)!.Value.Length);
        var e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.AppendAsync(1, new byte[1], 1, Ct).AsTask());
        Assert.Equal(ChunkStoreError.OutOfRange, e.Error);
        e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.WriteAsync(1, ChunkStoreOptions.MaxChunkSize - 10, new byte[11], 1, Ct).AsTask());
        Assert.Equal(ChunkStoreError.OutOfRange, e.Error);
        Assert.Equal(10, await store.ReadAsync(1, ChunkStoreOptions.MaxChunkSize - 10, new byte[100], Ct));
    }

    [Fact]
    public void Options_AreValidated()
    {
        foreach (var bad in new[]
        {
            new ChunkStoreOptions { Directory = "" },
            new ChunkStoreOptions { Directory = "x", ChunkSize = 1000 },
            new ChunkStoreOptions { Directory = "x", ChunkSize = ChunkStoreOptions.MaxChunkSize * 2 },
            new ChunkStoreOptions { Directory = "x", ScrubberBandwidth = 0 },
            new ChunkStoreOptions { Directory = "x", ReadWindow = 1000 },
        })
        {
            var e = Assert.Throws<ChunkStoreException>(bad.Validate);
            Assert.Equal(ChunkStoreError.InvalidArgument, e.Error);
        }
    }

    [Fact]
    public async Task Reopen_WithAnotherChunkSize_IsRefused()
    {
        await using var h = new StoreHarness();
        await h.OpenAsync();
        await h.CloseAsync();
        var other = new ChunkStoreOptions { Directory = h.Directory, ChunkSize = 2 * StoreHarness.SmallChunk };
        var e = await Assert.ThrowsAsync<ChunkStoreException>(() => ChunkStore.OpenAsync(other, cancellationToken: Ct));
        Assert.Equal(ChunkStoreError.InvalidArgument, e.Error);
    }

    [Fact]
    public async Task StaleVersion_IsRefused_AndSetVersionOnlyMovesForward()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 3, Ct);
        var e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.AppendAsync(1, new byte[1], 2, Ct).AsTask());
        Assert.Equal(ChunkStoreError.StaleVersion, e.Error);
        e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.WriteAsync(1, 0, new byte[1], 4, Ct).AsTask());
        Assert.Equal(ChunkStoreError.StaleVersion, e.Error);
        await store.SetVersionAsync(1, 4, Ct);
        await store.SetVersionAsync(1, 4, Ct);
        e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.SetVersionAsync(1, 3, Ct).AsTask());
        Assert.Equal(ChunkStoreError.StaleVersion, e.Error);
        await store.AppendAsync(1, new byte[1], 4, Ct);
        store = await h.ReopenAsync();
        Assert.Equal(new ChunkInfo(1, 4, 1, false), store.GetChunk(1));
    }

    [Fact]
    public async Task Delete_RemovesChunkAndFile_AndHandleCanBeReused()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        await store.AppendAsync(1, StoreHarness.Bytes(5000, 1), 1, Ct);
        await store.DeleteAsync(1, Ct);
        Assert.Null(store.GetChunk(1));
        Assert.False(File.Exists(h.ChunkPath(1)));
        await store.CreateAsync(1, 2, Ct);
        await store.AppendAsync(1, StoreHarness.Bytes(10, 2), 2, Ct);
        store = await h.ReopenAsync();
        Assert.Equal(new ChunkInfo(1, 2, 10, false), store.GetChunk(1));
        Assert.Equal(StoreHarness.Bytes(10, 2), await StoreHarness.ReadAllAsync(store, 1));
    }

    [Fact]
    public async Task ListChunks_AndStats_ReportEveryChunk()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        for (var i = 1; i <= 5; i++)
        {
            await store.CreateAsync(i, i * 10, Ct);
            await store.AppendAsync(i, new byte[i * 1000], i * 10, Ct);
        }

        await store.DeleteAsync(3, Ct);
        var expected = new[] { 1, 2, 4, 5 }.Select(i => new ChunkInfo(i, i * 10, i * 1000, false)).ToList();
        Assert.Equal(expected, store.ListChunks());
        var stats = store.GetStats();
        Assert.Equal(4, stats.Chunks);
        Assert.Equal(12000, stats.BytesUsed);
        Assert.True(stats.FreeBytes > 0 && stats.TotalBytes >= stats.FreeBytes);
        Assert.False(stats.Failed);

        store = await h.ReopenAsync();
        Assert.Equal(expected, store.ListChunks());
    }

    [Fact]
    public async Task StreamingRead_HandsOutVerifiedSegmentsCoveringTheRange()
    {
        await using var h = new StoreHarness();
        h.Options.ReadWindow = 2 * Block;
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        var data = StoreHarness.Bytes((5 * Block) + 7, 9);
        await store.AppendAsync(1, data, 1, Ct);
        var received = new List<byte>();
        var segments = 0;
        var n = await store.ReadAsync(1, 10, data.Length, (segment, _) =>
        {
            segments++;
            received.AddRange(segment.ToArray());
            return default;
        }, Ct);
        Assert.Equal(data.Length - 10, n);
        Assert.Equal(data.AsSpan(10).ToArray(), received.ToArray());
        Assert.Equal(3, segments);
    }

    [Fact]
    public async Task StreamingRead_StopsCleanly_WhenTheSinkFailsOrTheCallerCancels()
    {
        await using var h = new StoreHarness();
        h.Options.ReadWindow = Block;
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        var data = StoreHarness.Bytes(8 * Block, 3);
        await store.AppendAsync(1, data, 1, Ct);

        var calls = 0;
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.ReadAsync(1, 0, data.Length, (_, _) =>
        {
            if (++calls == 2)
            {
                throw new InvalidOperationException("the client went away");
            }

            return default;
        }, Ct).AsTask());
        Assert.Equal(2, calls);

        using var cts = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.ReadAsync(1, 0, data.Length, async (_, ct) =>
        {
            await cts.CancelAsync();
            ct.ThrowIfCancellationRequested();
        }, cts.Token).AsTask());

        // Nothing is left half-done: the chunk reads back whole, and an overwrite (which waits for readers) goes through.
        Assert.Equal(data, await StoreHarness.ReadAllAsync(store, 1));
        await store.WriteAsync(1, 10, new byte[10], 1, Ct);
    }

    [Fact]
    public async Task ConcurrentWriters_OnManyChunks_AllSucceedAndSurviveReopen()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        const int Writers = 16;
        await Task.WhenAll(Enumerable.Range(1, Writers).Select(async i =>
        {
            await store.CreateAsync(i, 1, Ct);
            for (var k = 0; k < 10; k++)
            {
                await store.AppendAsync(i, StoreHarness.Bytes(3000, (i * 100) + k), 1, Ct);
            }
        }));
        store = await h.ReopenAsync();
        for (var i = 1; i <= Writers; i++)
        {
            var expected = Enumerable.Range(0, 10).SelectMany(k => StoreHarness.Bytes(3000, (i * 100) + k)).ToArray();
            Assert.Equal(expected, await StoreHarness.ReadAllAsync(store, i));
        }
    }

    [Fact]
    public async Task ConcurrentWriters_ShareOneGroupCommit()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        const int Writers = 16;
        for (var i = 1; i <= Writers; i++)
        {
            await store.CreateAsync(i, 1, Ct);
        }

        // Hold the committer inside one log sync while every other writer queues up behind it.
        var commitsBefore = store.LogCommits;
        var syncsBefore = store.ChunkSyncs;
        var blocked = h.Faults.Pause(Io.Failpoints.WalSync);
        Task first;
        List<Task<long>> rest;
        try
        {
            first = store.AppendAsync(1, new byte[100], 1, Ct).AsTask();
            await Gfs.Testing.Retry.Until("the first commit reaches the log sync", () => blocked.IsSet, TimeSpan.FromSeconds(10));
            rest = Enumerable.Range(2, Writers - 1).Select(i => store.AppendAsync(i, new byte[100], 1, Ct).AsTask()).ToList();
            await Gfs.Testing.Retry.Until("the other writers are queued", () => store.PendingCommits == Writers - 1, TimeSpan.FromSeconds(10));
        }
        finally
        {
            h.Faults.Resume(Io.Failpoints.WalSync);
        }

        await first;
        await Task.WhenAll(rest);

        Assert.Equal(2, store.LogCommits - commitsBefore);         // 16 appends, two log syncs
        Assert.Equal(Writers, store.ChunkSyncs - syncsBefore);     // each chunk file synced once
        Assert.All(Enumerable.Range(1, Writers), i => Assert.Equal(100, store.GetChunk(i)!.Value.Length));
    }

    [Fact]
    public async Task ClosedStore_RefusesCalls()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        await h.CloseAsync();
        var e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.AppendAsync(1, new byte[1], 1, Ct).AsTask());
        Assert.Equal(ChunkStoreError.Closed, e.Error);
        e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.ReadAsync(1, 0, new byte[1], Ct).AsTask());
        Assert.Equal(ChunkStoreError.Closed, e.Error);
    }
}
