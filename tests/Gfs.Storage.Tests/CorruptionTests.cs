using System.Collections.Concurrent;
using Gfs.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Gfs.Storage.Tests;

/// <summary>The five HDFS TestCrcCorruption modes, each detected at start, on read and by the scrubber.</summary>
public sealed class CorruptionTests
{
    private const int Block = ChunkStoreOptions.BlockSize;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public enum Damage
    {
        DeleteFile,
        TruncateFile,
        CorruptFirstBlock,
        FlipRandomByte,
        SwapTwoFiles,
    }

    private static async Task<StoreHarness> StoreWithChunksAsync()
    {
        var h = new StoreHarness();
        var store = await h.OpenAsync();
        for (var handle = 1; handle <= 3; handle++)
        {
            await store.CreateAsync(handle, 1, Ct);
            await store.AppendAsync(handle, StoreHarness.Bytes((3 * Block) + 1000, handle), 1, Ct);
        }

        await h.CloseAsync();
        return h;
    }

    /// <summary>Damages the store's files; returns the chunks that must be found bad.</summary>
    private static long[] Inflict(StoreHarness h, Damage damage, int seed)
    {
        var random = new Random(seed);
        switch (damage)
        {
            case Damage.DeleteFile:
                File.Delete(h.ChunkPath(1));
                return [1];
            case Damage.TruncateFile:
                using (var f = File.OpenHandle(h.ChunkPath(1), FileMode.Open, FileAccess.Write))
                {
                    RandomAccess.SetLength(f, Block + 10);
                }

                return [1];
            case Damage.CorruptFirstBlock:
                using (var f = File.OpenHandle(h.ChunkPath(1), FileMode.Open, FileAccess.Write))
                {
                    RandomAccess.Write(f, StoreHarness.Bytes(Block, 999), 0);
                }

                return [1];
            case Damage.FlipRandomByte:
                var bytes = File.ReadAllBytes(h.ChunkPath(1));
                var at = random.Next(bytes.Length);
                bytes[at] ^= (byte)(1 << random.Next(8));
                File.WriteAllBytes(h.ChunkPath(1), bytes);
                return [1];
            case Damage.SwapTwoFiles:
                File.Move(h.ChunkPath(1), h.ChunkPath(1) + ".swap");
                File.Move(h.ChunkPath(2), h.ChunkPath(1));
                File.Move(h.ChunkPath(1) + ".swap", h.ChunkPath(2));
                return [1, 2];
            default:
                throw new ArgumentOutOfRangeException(nameof(damage));
        }
    }

    /// <summary>The five HDFS TestCrcCorruption modes.</summary>
    public static TheoryData<Damage> AllDamage => [.. Enum.GetValues<Damage>()];

    [Theory]
    [MemberData(nameof(AllDamage))]
    public async Task Damage_IsDetectedOnRead_WithChunkAndBlock_AndNoByteIsServed(Damage damage)
    {
        await using var h = await StoreWithChunksAsync();
        var bad = Inflict(h, damage, seed: 42);
        var store = await h.OpenAsync();
        var events = new ConcurrentBag<CorruptChunkEventArgs>();
        store.CorruptChunkDetected += (_, e) => events.Add(e);
        foreach (var handle in bad)
        {
            var served = 0L;
            var e = await Assert.ThrowsAsync<ChunkStoreException>(() => store.ReadAsync(handle, 0, long.MaxValue, (segment, _) =>
            {
                served += segment.Length;
                return default;
            }, Ct).AsTask());
            Assert.Equal(ChunkStoreError.ChecksumMismatch, e.Error);
            Assert.Equal(handle, e.Handle);
            Assert.NotNull(e.BlockIndex);
            Assert.True(served <= e.BlockIndex!.Value * (long)Block, $"{served} bytes served before bad block {e.BlockIndex}"); // nothing from the bad block on
            Assert.Contains(events, ev => ev.Handle == handle);
        }

        // The untouched chunk still reads back.
        Assert.Equal(StoreHarness.Bytes((3 * Block) + 1000, 3), await StoreHarness.ReadAllAsync(store, 3));
    }

    [Theory]
    [InlineData(Damage.CorruptFirstBlock)]
    [InlineData(Damage.FlipRandomByte)]
    [InlineData(Damage.SwapTwoFiles)]
    public async Task DamagedContent_IsFlaggedAtStart_WhenVerifyAtStartIsOn(Damage damage)
    {
        await using var h = await StoreWithChunksAsync();
        var bad = Inflict(h, damage, seed: 3);
        h.Options.VerifyAtStart = true;
        var store = await h.OpenAsync();
        foreach (var info in store.ListChunks())
        {
            Assert.Equal(bad.Contains(info.Handle), info.IsCorrupt);
        }
    }

    [Theory]
    [InlineData(Damage.DeleteFile)]
    [InlineData(Damage.TruncateFile)]
    public async Task MissingOrShortFile_IsFlaggedAtStart(Damage damage)
    {
        await using var h = await StoreWithChunksAsync();
        Inflict(h, damage, seed: 1);
        var store = await h.OpenAsync();
        Assert.True(store.GetChunk(1)!.Value.IsCorrupt);
        Assert.False(store.GetChunk(2)!.Value.IsCorrupt);
        Assert.Equal(1, store.GetStats().CorruptChunks);
    }

    [Theory]
    [MemberData(nameof(AllDamage))]
    public async Task Damage_IsReportedByTheScrubber(Damage damage)
    {
        await using var h = await StoreWithChunksAsync();
        var bad = Inflict(h, damage, seed: 7);
        h.Options.ScrubberIdleTime = TimeSpan.Zero;
        h.Options.ScrubberPassInterval = TimeSpan.FromMilliseconds(20);
        h.Options.ScrubberBandwidth = 1L << 40;
        var store = await h.OpenAsync();
        var reported = new ConcurrentDictionary<long, CorruptChunkEventArgs>();
        store.CorruptChunkDetected += (_, e) => reported[e.Handle] = e;
        store.StartScrubber();
        await Retry.Until("the scrubber reports every damaged chunk", () => bad.All(reported.ContainsKey), TimeSpan.FromSeconds(30));
        await store.StopScrubberAsync();
        Assert.DoesNotContain(3L, reported.Keys);
        Assert.All(bad, b => Assert.True(store.GetChunk(b)!.Value.IsCorrupt));
    }

    [Fact]
    public async Task Scrubber_KeepsToItsBandwidth_AndSkipsBusyChunks()
    {
        const long Bandwidth = Block;                      // one block per second
        const long Idle = 8L * Block;
        await using var h = new StoreHarness();
        var clock = new FakeTimeProvider();
        h.Options.ScrubberBandwidth = Bandwidth;
        h.Options.ScrubberIdleTime = TimeSpan.FromMinutes(1);
        h.Options.ReadWindow = Block;                      // the scrubber reads a block at a time
        var store = await ChunkStore.OpenAsync(h.Options, clock, Ct);
        await store.CreateAsync(1, 1, Ct);
        await store.AppendAsync(1, StoreHarness.Bytes((int)Idle, 1), 1, Ct);
        var corrupt = 0;
        store.CorruptChunkDetected += (_, _) => corrupt++;

        // Just written: not idle, so a pass reads nothing and needs no clock time (a pass that read
        // the chunk would wait for the fake clock forever; the deadline turns that into a failure).
        await store.ScrubPassAsync(Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(0, store.ScrubbedBytes);
        Assert.Equal(1, store.ScrubSkippedBusy);

        // Chunk 1 goes idle; chunk 2 is written now, so it is busy during the next pass.
        clock.Advance(TimeSpan.FromMinutes(2));
        await store.CreateAsync(2, 1, Ct);
        await store.AppendAsync(2, StoreHarness.Bytes(4 * Block, 2), 1, Ct);

        // The pass runs while the fake clock moves in quarter seconds. At every step the bytes read
        // so far stay within the budget for the clock time elapsed since the pass began, plus the
        // one window read before the throttle waits. Without the throttle the whole chunk would be
        // read at elapsed time 0, eight times the bound.
        var began = clock.GetTimestamp();
        var pass = store.ScrubPassAsync(Ct);
        var over = new List<string>();
        var steps = 0;
        await Retry.Until("the scrub pass finishes as the fake clock moves", () =>
        {
            var elapsed = clock.GetElapsedTime(began);
            var read = store.ScrubbedBytes;
            var budget = (long)(Bandwidth * elapsed.TotalSeconds) + h.Options.ReadWindow;
            if (read > budget)
            {
                over.Add($"{read} bytes read after {elapsed.TotalSeconds:0.00} s of clock time (budget {budget})");
            }

            if (pass.IsCompleted)
            {
                return true;
            }

            clock.Advance(TimeSpan.FromMilliseconds(250));
            steps++;
            return false;
        }, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(2));

        await pass;
        Assert.Empty(over);
        Assert.True(steps > 0, "the pass ended without the clock moving");

        // Every byte of the idle chunk, and none of the busy one.
        Assert.Equal(Idle, store.ScrubbedBytes);
        Assert.Equal(2, store.ScrubSkippedBusy);
        Assert.Equal(0, corrupt);
        await store.DisposeAsync();
    }
}
