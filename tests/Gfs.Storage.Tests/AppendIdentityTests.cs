namespace Gfs.Storage.Tests;

/// <summary>
/// Record-append identities (client id, sequence) → offset kept with the chunk's data: written in the
/// same log record as the append, checkpointed with the index, bounded per client and per chunk, and
/// restored at start.
/// </summary>
public sealed class AppendIdentityTests
{
    private const int PerClient = ChunkStoreOptions.AppendsPerClient;
    private const int PerChunk = ChunkStoreOptions.AppendsPerChunk;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Identities_SurviveAKill_ReplayedFromTheLog()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        Assert.Equal(0, await store.AppendAsync(1, StoreHarness.Bytes(1000, 1), 1, new AppendId(5, 1), Ct));
        Assert.Equal(1000, await store.AppendAsync(1, StoreHarness.Bytes(300, 2), 1, Ct)); // no identity
        await store.WriteAsync(1, 1300, StoreHarness.Bytes(700, 3), 1, new AppendId(6, 9), Ct); // at the end, as a secondary applies it
        await store.SetVersionAsync(1, 2, Ct);
        Assert.Equal(2000, await store.AppendAsync(1, StoreHarness.Bytes(50, 4), 2, new AppendId(5, 2), Ct));
        Assert.Equal(1300, store.FindAppend(1, 6, 9));

        await store.AbandonAsync();
        store = await h.OpenAsync();
        Assert.Equal(0, store.FindAppend(1, 5, 1));
        Assert.Equal(1300, store.FindAppend(1, 6, 9));
        Assert.Equal(2000, store.FindAppend(1, 5, 2));
        Assert.Null(store.FindAppend(1, 5, 3));
        Assert.Null(store.FindAppend(1, 6, 1));
        Assert.Null(store.FindAppend(2, 5, 1));
        Assert.Equal(new ChunkInfo(1, 2, 2050, false), store.GetChunk(1));

        // The restored table goes on: a new identity is added, a known one refused.
        Assert.Equal(2050, await store.AppendAsync(1, StoreHarness.Bytes(10, 5), 2, new AppendId(5, 3), Ct));
        Assert.Equal(ChunkStoreError.AlreadyExists, (await Assert.ThrowsAsync<ChunkStoreException>(() => store.AppendAsync(1, StoreHarness.Bytes(10, 5), 2, new AppendId(5, 1), Ct).AsTask())).Error);
    }

    [Fact]
    public async Task Identities_SurviveCheckpoints_AfterTheLogThatCarriedThemIsTruncated()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        var offsets = new List<long>();
        for (var s = 1; s <= 3; s++)
        {
            offsets.Add(await store.AppendAsync(1, StoreHarness.Bytes(1000 * s, s), 1, new AppendId(9, s), Ct));
        }

        await h.CloseAsync();

        // A later run checkpoints twice (the log is cut one checkpoint late), so the first run's log is gone.
        store = await h.OpenAsync();
        await store.CreateAsync(2, 1, Ct);
        await store.CheckpointNowAsync();
        await store.AppendAsync(2, StoreHarness.Bytes(10, 7), 1, new AppendId(9, 1), Ct);
        await store.CheckpointNowAsync();
        var firstSegment = Path.Combine(h.Directory, "wal", $"{0:x16}.wal");
        Assert.False(File.Exists(firstSegment), "the first run's log segment is still there");

        await store.AbandonAsync();
        store = await h.OpenAsync();
        for (var s = 1; s <= 3; s++)
        {
            Assert.Equal(offsets[s - 1], store.FindAppend(1, 9, s));
        }

        Assert.Equal(0, store.FindAppend(2, 9, 1));
        Assert.Null(store.FindAppend(2, 9, 2));
    }

    [Fact]
    public async Task TheTable_KeepsTheLastSequencesPerClient_AndABoundedNumberPerChunk_AcrossARestart()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        var record = new byte[] { 42 };
        var offset = 0L;
        async Task AppendAsync(long client, long sequence)
            => Assert.Equal(offset++, await store.AppendAsync(1, record, 1, new AppendId(client, sequence), Ct));

        // One client: only its last PerClient sequences stay.
        for (var s = 1; s <= PerClient + 6; s++)
        {
            await AppendAsync(1, s);
        }

        // Other clients fill the chunk's table exactly; nothing more is forgotten.
        var others = (PerChunk - PerClient) / PerClient;
        for (var c = 2; c < 2 + others; c++)
        {
            for (var s = 1; s <= PerClient; s++)
            {
                await AppendAsync(c, s);
            }
        }

        void Check()
        {
            for (var s = 1; s <= 7; s++)
            {
                Assert.Null(store.FindAppend(1, 1, s)); // 1–6 by the client's window, 7 by the chunk's bound
            }

            for (var s = 8; s <= PerClient + 6; s++)
            {
                Assert.Equal(s - 1, store.FindAppend(1, 1, s));
            }

            for (var c = 2; c < 2 + others; c++)
            {
                for (var s = 1; s <= PerClient; s++)
                {
                    Assert.Equal(PerClient + 6 + ((c - 2) * PerClient) + s - 1, store.FindAppend(1, c, s));
                }
            }

            Assert.Equal(offset - 1, store.FindAppend(1, 99, 1));
        }

        // One more append passes the chunk's bound: the oldest entry of all goes.
        Assert.Null(store.FindAppend(1, 1, 6));
        Assert.Equal(6, store.FindAppend(1, 1, 7));
        await AppendAsync(99, 1);
        Check();

        await store.CheckpointNowAsync();
        await store.AbandonAsync();
        store = await h.OpenAsync();
        Check();
    }

    [Fact]
    public async Task TheSameAppends_LeaveTheSameTable_OnEveryStore()
    {
        await using var a = new StoreHarness();
        await using var b = new StoreHarness();
        var first = await a.OpenAsync();
        var second = await b.OpenAsync();
        await first.CreateAsync(1, 1, Ct);
        await second.CreateAsync(1, 1, Ct);
        await second.CreateAsync(2, 1, Ct);

        // The same appends in the same order; the second store also works on another chunk, checkpoints and restarts.
        var random = new Random(5);
        var sequences = new long[9];
        var used = new List<AppendId>();
        const int Appends = PerChunk + 60;
        for (var i = 0; i < Appends; i++)
        {
            var client = random.Next(3) == 0 ? 1 : random.Next(2, 9); // client 1 appends most, past its own window
            var id = new AppendId(client, ++sequences[client]);
            used.Add(id);
            var data = StoreHarness.Bytes(random.Next(1, 200), i);
            var at = await first.AppendAsync(1, data, 1, id, Ct);
            Assert.Equal(at, await second.AppendAsync(1, data, 1, id, Ct));
            if (i % 7 == 0)
            {
                await second.AppendAsync(2, data, 1, Ct);
            }

            if (i == Appends / 3)
            {
                await second.CheckpointNowAsync();
            }

            if (i == Appends / 2)
            {
                await second.AbandonAsync();
                second = await b.OpenAsync();
            }
        }

        Assert.True(sequences[1] > PerClient, $"client 1 appended only {sequences[1]} records");
        var kept = used.Count(id => first.FindAppend(1, id.ClientId, id.Sequence) is not null);
        Assert.Equal(PerChunk, kept);
        Assert.All(used, id => Assert.Equal(first.FindAppend(1, id.ClientId, id.Sequence), second.FindAppend(1, id.ClientId, id.Sequence)));
    }

    [Fact]
    public async Task AKnownIdentity_IsRefused_AndOnlyBytesAtTheEndCarryOne()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        await store.AppendAsync(1, StoreHarness.Bytes(500, 1), 1, new AppendId(3, 1), Ct);

        async Task<ChunkStoreError> RefusedAsync(Func<Task> call) => (await Assert.ThrowsAsync<ChunkStoreException>(call)).Error;
        Assert.Equal(ChunkStoreError.AlreadyExists, await RefusedAsync(() => store.AppendAsync(1, StoreHarness.Bytes(5, 2), 1, new AppendId(3, 1), Ct).AsTask()));
        Assert.Equal(ChunkStoreError.AlreadyExists, await RefusedAsync(() => store.WriteAsync(1, 500, StoreHarness.Bytes(5, 2), 1, new AppendId(3, 1), Ct).AsTask()));
        Assert.Equal(ChunkStoreError.InvalidArgument, await RefusedAsync(() => store.WriteAsync(1, 100, StoreHarness.Bytes(5, 2), 1, new AppendId(3, 2), Ct).AsTask()));
        Assert.Equal(ChunkStoreError.InvalidArgument, await RefusedAsync(() => store.AppendAsync(1, ReadOnlyMemory<byte>.Empty, 1, new AppendId(3, 2), Ct).AsTask()));
        Assert.Equal(ChunkStoreError.NotFound, await RefusedAsync(() => store.AppendAsync(2, StoreHarness.Bytes(5, 2), 1, new AppendId(3, 2), Ct).AsTask()));
        Assert.Equal(500, store.GetChunk(1)!.Value.Length);
        Assert.Null(store.FindAppend(1, 3, 2));

        // A deleted and re-created chunk starts with an empty table, also after a restart.
        await store.DeleteAsync(1, Ct);
        Assert.Null(store.FindAppend(1, 3, 1));
        await store.CreateAsync(1, 1, Ct);
        Assert.Null(store.FindAppend(1, 3, 1));
        await store.AppendAsync(1, StoreHarness.Bytes(5, 3), 1, new AppendId(4, 1), Ct);
        await store.AbandonAsync();
        store = await h.OpenAsync();
        Assert.Null(store.FindAppend(1, 3, 1));
        Assert.Equal(0, store.FindAppend(1, 4, 1));
    }

    [Fact]
    public async Task AStoreWrittenBeforeIdentities_Opens_AndKeepsThemFromThenOn()
    {
        await using var h = new StoreHarness();
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        await store.AppendAsync(1, StoreHarness.Bytes(3000, 1), 1, Ct);
        await store.CreateAsync(2, 4, Ct);
        await store.CheckpointNowAsync();
        await store.AppendAsync(2, StoreHarness.Bytes(100, 2), 4, Ct); // in the log after the checkpoint
        await store.AbandonAsync();

        // The first format's identification file, as the store wrote it before identities existed.
        var format = Path.Combine(h.Directory, "STORE");
        await File.WriteAllTextAsync(format, $"gfs-chunk-store 1\nchunk-size {StoreHarness.SmallChunk}\n", Ct);

        store = await h.OpenAsync();
        Assert.StartsWith("gfs-chunk-store 2\n", await File.ReadAllTextAsync(format, Ct), StringComparison.Ordinal);
        Assert.Equal([new ChunkInfo(1, 1, 3000, false), new ChunkInfo(2, 4, 100, false)], store.ListChunks());
        Assert.Equal(StoreHarness.Bytes(3000, 1), await StoreHarness.ReadAllAsync(store, 1));
        Assert.Null(store.FindAppend(1, 1, 1));

        Assert.Equal(3000, await store.AppendAsync(1, StoreHarness.Bytes(10, 3), 1, new AppendId(1, 1), Ct));
        await store.AbandonAsync();
        store = await h.OpenAsync();
        Assert.Equal(3000, store.FindAppend(1, 1, 1));
    }
}
