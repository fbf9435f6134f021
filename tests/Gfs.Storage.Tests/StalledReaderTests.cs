namespace Gfs.Storage.Tests;

/// <summary>
/// A streaming read hands each verified window to its sink outside the chunk's read gate, so a
/// reader whose sink stalls (a stopped network peer) holds nothing that writers or other readers need.
/// </summary>
public sealed class StalledReaderTests
{
    private const int Block = ChunkStoreOptions.BlockSize;

    /// <summary>Bounds a wait that must end at once when the store is right (a hang guard, not a timing check).</summary>
    private static readonly TimeSpan Hang = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AReaderWhoseSinkStalls_BlocksNoOverwriteDeleteOrOtherReader()
    {
        await using var h = new StoreHarness();
        h.Options.ReadWindow = Block;
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        var data = StoreHarness.Bytes(4 * Block, 1);
        await store.AppendAsync(1, data, 1, Ct);

        var inSink = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var segments = new List<byte[]>();
        var stalled = store.ReadAsync(1, 0, data.Length, async (segment, _) =>
        {
            segments.Add(segment.ToArray());
            inSink.TrySetResult();
            await resume.Task;
        }, Ct).AsTask();

        try
        {
            await inSink.Task.WaitAsync(Hang, Ct);

            // An overwrite, which keeps readers out while it changes bytes and checksums, goes through.
            var patch = StoreHarness.Bytes(100, 2);
            await store.WriteAsync(1, 10, patch, 1, Ct).AsTask().WaitAsync(Hang, Ct);

            // So does another reader, and it sees the overwrite.
            var expected = data.ToArray();
            patch.CopyTo(expected, 10);
            Assert.Equal(expected, await StoreHarness.ReadAllAsync(store, 1).WaitAsync(Hang, Ct));

            // And a delete.
            await store.DeleteAsync(1, Ct).AsTask().WaitAsync(Hang, Ct);
            Assert.Null(store.GetChunk(1));
        }
        finally
        {
            resume.TrySetResult();
        }

        // The stalled reader's next window finds the chunk gone: nothing of a deleted chunk is served.
        var error = await Assert.ThrowsAsync<ChunkStoreException>(() => stalled);
        Assert.Equal(ChunkStoreError.NotFound, error.Error);
        Assert.Equal(data.AsSpan(0, Block).ToArray(), Assert.Single(segments));
    }

    [Fact]
    public async Task AReadSpanningAnOverwrite_VerifiesEachWindowAgainstTheChecksumsOfItsTime()
    {
        await using var h = new StoreHarness();
        h.Options.ReadWindow = Block;
        var store = await h.OpenAsync();
        await store.CreateAsync(1, 1, Ct);
        var data = StoreHarness.Bytes((3 * Block) + 100, 3);
        await store.AppendAsync(1, data, 1, Ct);

        // Between two windows of one read, the chunk is overwritten further on and grows: each window is
        // verified against the checksums current when it is read, so no false mismatch, and the read
        // serves the bytes as they were when each window was read.
        var patch = StoreHarness.Bytes(Block, 4);
        var tail = StoreHarness.Bytes(500, 5);
        var received = new List<byte>();
        var windows = 0;
        var n = await store.ReadAsync(1, 0, data.Length, async (segment, ct) =>
        {
            received.AddRange(segment.ToArray());
            if (++windows == 1)
            {
                await store.WriteAsync(1, 2 * Block, patch, 1, ct).AsTask().WaitAsync(Hang, ct);
                await store.AppendAsync(1, tail, 1, ct);
            }
        }, Ct);

        var expected = data.ToArray();
        patch.CopyTo(expected, 2 * Block);
        Assert.Equal(data.Length, n);
        Assert.Equal(expected, received.ToArray());
        Assert.Equal(expected.Concat(tail).ToArray(), await StoreHarness.ReadAllAsync(store, 1));
    }
}
