using System.Globalization;
using Gfs.Testing;

namespace Gfs.Storage.Tests;

/// <summary>
/// A child process writes at random and journals each operation before and after its acknowledgement; the
/// parent SIGKILLs it at random moments, reopens the store and checks every acknowledged byte and version.
/// </summary>
public sealed class CrashTests
{
    private const int Kills = 32;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Client and Sequence: the record-append identity of an append (Client 0 for none).
    private sealed record Op(string Kind, long Handle, long Offset, int Length, int Seed, long Version, long Client = 0, long Sequence = 0)
    {
        public byte[] Bytes()
        {
            var b = new byte[Length];
            new Random(Seed).NextBytes(b);
            return b;
        }
    }

    private sealed class ChunkModel
    {
        public long Version { get; set; }

        public List<byte> Data { get; init; } = [];

        /// <summary>The record-append identities the store must still know, oldest first, with their offsets.</summary>
        public List<(long Client, long Sequence, long Offset)> Appends { get; init; } = [];

        /// <summary>Every identity appended to this chunk: those no longer in <see cref="Appends"/> must be forgotten.</summary>
        public List<(long Client, long Sequence)> Identities { get; init; } = [];

        public ChunkModel Clone() => new() { Version = Version, Data = [.. Data], Appends = [.. Appends], Identities = [.. Identities] };

        /// <summary>The store's bounds: the last sequences per client, and at most so many per chunk, oldest out first.</summary>
        public void Remember(long client, long sequence, long offset)
        {
            if (Appends.Count(a => a.Client == client) == ChunkStoreOptions.AppendsPerClient)
            {
                Appends.RemoveAt(Appends.FindIndex(a => a.Client == client));
            }

            Appends.Add((client, sequence, offset));
            if (Appends.Count > ChunkStoreOptions.AppendsPerChunk)
            {
                Appends.RemoveAt(0);
            }

            Identities.Add((client, sequence));
        }

        /// <summary>Whether <paramref name="store"/> knows exactly the identities this model keeps, at their offsets.</summary>
        public bool SameAppends(ChunkStore store, long handle) => Identities.All(id =>
            store.FindAppend(handle, id.Client, id.Sequence) == Appends.Where(a => a.Client == id.Client && a.Sequence == id.Sequence).Select(a => (long?)a.Offset).FirstOrDefault());
    }

    /// <param name="maxOpenFiles">1024 keeps every chunk file open; 2 closes and reopens them all the time (about ten chunks).</param>
    [Theory]
    [InlineData(1024)]
    [InlineData(2)]
    public async Task KilledWriters_LoseNoAcknowledgedByte_AndNeverServeABadChecksum(int maxOpenFiles)
    {
        const int Writers = 3;
        using var temp = new TempDirectory("gfs-crash");
        var storeDir = temp.Combine("store");
        var models = Enumerable.Range(0, Writers).Select(_ => new Dictionary<long, ChunkModel>()).ToArray();
        var seed = Environment.GetEnvironmentVariable("GFS_CRASH_SEED") is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : Random.Shared.Next();
        var random = new Random(seed);
        var totalAcked = 0;
        var identities = 0;
        var inFlightOutcomes = new Dictionary<string, int>();
        for (var kill = 0; kill < Kills; kill++)
        {
            var journal = temp.Combine($"journal-{kill}");
            using (var child = CrashWriterProcess.Start("random", storeDir, journal, random.Next().ToString(CultureInfo.InvariantCulture), Writers.ToString(CultureInfo.InvariantCulture), maxOpenFiles.ToString(CultureInfo.InvariantCulture)))
            {
                await child.WaitReadyAsync(TimeSpan.FromSeconds(60));

                // Let a few operations through, then kill at a random moment.
                var wanted = random.Next(2, 20);
                await Retry.Until($"the writers acknowledge {wanted} operations (seed {seed})", () => Enumerable.Range(0, Writers).Sum(w => CountAcks($"{journal}.{w}")) >= wanted, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(5));
                await Task.Delay(random.Next(0, 40), Ct);
                child.Kill();
            }

            var options = new ChunkStoreOptions { Directory = storeDir, ChunkSize = 1024 * 1024, WalSegmentSize = 1024 * 1024, IndexMemorySize = 4 * 1024 * 1024 };
            await using var store = await ChunkStore.OpenAsync(options, cancellationToken: Ct);
            for (var w = 0; w < Writers; w++)
            {
                var (acked, inFlight) = ReadJournal($"{journal}.{w}");
                totalAcked += acked.Count;
                foreach (var op in acked)
                {
                    Apply(models[w], op);
                }

                var context = $"seed {seed}, kill {kill}, writer {w}, in flight: {inFlight}";
                var mine = (long handle) => (handle - 1) % Writers == w;

                // The one operation in flight may or may not have happened, but never half.
                if (inFlight is not null)
                {
                    var after = new Dictionary<long, ChunkModel>(models[w].Select(kv => KeyValuePair.Create(kv.Key, kv.Value.Clone())));
                    Apply(after, inFlight);
                    var happened = Matches(store, after, mine);
                    var notHappened = Matches(store, models[w], mine);
                    Assert.True(happened || notHappened, $"state after the kill is neither before nor after the operation in flight ({context})");
                    if (happened && !notHappened)
                    {
                        models[w] = after;
                    }

                    var key = inFlight.Kind + (happened && !notHappened ? "+" : "-");
                    inFlightOutcomes[key] = inFlightOutcomes.GetValueOrDefault(key) + 1;
                }

                foreach (var (handle, expected) in models[w])
                {
                    var info = store.GetChunk(handle);
                    Assert.True(info is not null, $"chunk {handle} is lost ({context})");
                    Assert.Equal(expected.Version, info!.Value.Version);
                    Assert.False(info.Value.IsCorrupt, $"chunk {handle} flagged corrupt ({context})");
                    Assert.Equal(expected.Data.ToArray(), await StoreHarness.ReadAllAsync(store, handle));
                    Assert.Null(await store.VerifyAsync(handle, Ct));
                    Assert.True(expected.SameAppends(store, handle), $"chunk {handle}: the record-append identities differ from the acknowledged appends ({context})");
                    identities += expected.Appends.Count;
                }

                Assert.Equal(models[w].Keys.Order().ToList(), store.ListChunks().Select(c => c.Handle).Where(mine).ToList());
            }
        }

        Assert.True(totalAcked >= Kills, $"only {totalAcked} operations were acknowledged over {Kills} kills");
        Assert.True(identities > 0, "no record-append identity was checked");
        var summary = $"crash test seed {seed}: {Kills} kills, {totalAcked} acknowledged operations, {identities} record-append identities checked, in flight at kill: {string.Join(", ", inFlightOutcomes.Select(kv => $"{kv.Key}={kv.Value}"))}";
        TestContext.Current.SendDiagnosticMessage(summary);
        if (Environment.GetEnvironmentVariable("GFS_CRASH_SUMMARY") is { } summaryFile)
        {
            File.AppendAllText(summaryFile, summary + "\n");
        }
    }

    private static bool Matches(ChunkStore store, Dictionary<long, ChunkModel> model, Func<long, bool> mine)
    {
        var chunks = store.ListChunks().Where(c => mine(c.Handle)).ToList();
        if (!chunks.Select(c => c.Handle).Order().SequenceEqual(model.Keys.Order()))
        {
            return false;
        }

        foreach (var c in chunks)
        {
            var m = model[c.Handle];
            if (c.Version != m.Version || c.Length != m.Data.Count || !m.SameAppends(store, c.Handle))
            {
                return false;
            }

            var buffer = new byte[c.Length];
            if (store.ReadAsync(c.Handle, 0, buffer).AsTask().GetAwaiter().GetResult() != c.Length || !buffer.AsSpan().SequenceEqual(m.Data.ToArray()))
            {
                return false;
            }
        }

        return true;
    }

    private static void Apply(Dictionary<long, ChunkModel> model, Op op)
    {
        switch (op.Kind)
        {
            case "create":
                model[op.Handle] = new ChunkModel { Version = op.Version };
                break;
            case "delete":
                model.Remove(op.Handle);
                break;
            case "version":
                model[op.Handle].Version = op.Version;
                break;
            case "append":
            case "write":
                if (op.Client != 0)
                {
                    model[op.Handle].Remember(op.Client, op.Sequence, op.Offset);
                }

                var data = model[op.Handle].Data;
                var bytes = op.Bytes();
                for (var i = 0; i < bytes.Length; i++)
                {
                    var at = (int)op.Offset + i;
                    if (at < data.Count)
                    {
                        data[at] = bytes[i];
                    }
                    else
                    {
                        data.Add(bytes[i]);
                    }
                }

                break;
            default:
                throw new InvalidDataException("unknown journal operation " + op.Kind);
        }
    }

    private static int CountAcks(string journal)
    {
        if (!File.Exists(journal))
        {
            return 0;
        }

        using var reader = new StreamReader(new FileStream(journal, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        var n = 0;
        while (reader.ReadLine() is { } line)
        {
            n += line.StartsWith("A ", StringComparison.Ordinal) ? 1 : 0;
        }

        return n;
    }

    private static (List<Op> Acked, Op? InFlight) ReadJournal(string path)
    {
        var acked = new List<Op>();
        Op? begun = null;
        if (!File.Exists(path))
        {
            return (acked, null);
        }

        var text = File.ReadAllText(path);
        var lines = text.Split('\n');

        // The last element is an unterminated line (or empty): a write the kill cut short is ignored.
        foreach (var line in lines[..^1])
        {
            var f = line.Split(' ');
            if (f[0] == "B")
            {
                begun = new Op(f[1], long.Parse(f[2], CultureInfo.InvariantCulture), long.Parse(f[3], CultureInfo.InvariantCulture), int.Parse(f[4], CultureInfo.InvariantCulture), int.Parse(f[5], CultureInfo.InvariantCulture), long.Parse(f[6], CultureInfo.InvariantCulture))
                {
                    Client = f.Length > 8 ? long.Parse(f[7], CultureInfo.InvariantCulture) : 0,
                    Sequence = f.Length > 8 ? long.Parse(f[8], CultureInfo.InvariantCulture) : 0,
                };
            }
            else if (f[0] == "A" && begun is not null)
            {
                acked.Add(begun);
                begun = null;
            }
        }

        return (acked, begun);
    }

    /// <summary>
    /// The crash writer's stores are on the real disk (the temp folder), so their aligned appends go through
    /// O_DIRECT: strace shows the direct opens, and a kill in the middle still loses no acknowledged byte.
    /// </summary>
    [Fact]
    public async Task KilledWriter_WritesChunkDataWithODirect_AndLosesNoAcknowledgedByte()
    {
        FaultTools.Require(FaultTools.HasStrace, "strace is not installed (apt-get install -y strace)");
        using var temp = new TempDirectory("gfs-crash-direct");
        var storeDir = temp.Combine("store");
        var journal = temp.Combine("journal");
        var trace = temp.Combine("trace");
        using (var child = CrashWriterProcess.StartUnder("strace", ["-f", "-qq", "-o", trace, "-e", "trace=openat"], "random", storeDir, journal, "7", "1"))
        {
            await child.WaitReadyAsync(TimeSpan.FromSeconds(60));
            await Retry.Until("the writer acknowledges 40 operations", () => CountAcks($"{journal}.0") >= 40, TimeSpan.FromSeconds(120), TimeSpan.FromMilliseconds(5));
            child.Kill();
        }

        var directOpens = File.ReadLines(trace).Count(l => l.Contains(".chunk", StringComparison.Ordinal) && l.Contains("O_DIRECT", StringComparison.Ordinal));
        Assert.True(directOpens > 0, "the writer never opened a chunk with O_DIRECT");

        var options = new ChunkStoreOptions { Directory = storeDir, ChunkSize = 1024 * 1024, WalSegmentSize = 1024 * 1024, IndexMemorySize = 4 * 1024 * 1024 };
        await using var store = await ChunkStore.OpenAsync(options, cancellationToken: Ct);
        var (acked, inFlight) = ReadJournal($"{journal}.0");
        var model = new Dictionary<long, ChunkModel>();
        foreach (var op in acked)
        {
            Apply(model, op);
        }

        if (inFlight is not null)
        {
            var after = new Dictionary<long, ChunkModel>(model.Select(kv => KeyValuePair.Create(kv.Key, kv.Value.Clone())));
            Apply(after, inFlight);
            var happened = Matches(store, after, _ => true);
            Assert.True(happened || Matches(store, model, _ => true), $"state after the kill is neither before nor after {inFlight}");
            if (happened)
            {
                model = after;
            }
        }

        foreach (var (handle, expected) in model)
        {
            Assert.Equal(expected.Data.ToArray(), await StoreHarness.ReadAllAsync(store, handle));
            Assert.Null(await store.VerifyAsync(handle, Ct));
        }

        Assert.Equal(model.Keys.Order().ToList(), store.ListChunks().Select(c => c.Handle).ToList());
    }

    [Fact]
    public async Task FailedFdatasync_UnderStrace_IsNeverAcknowledged_AndFailsTheStoreForGood()
    {
        FaultTools.Require(FaultTools.HasStrace, "strace is not installed (apt-get install -y strace)");
        using var temp = new TempDirectory("gfs-eio");
        var options = new ChunkStoreOptions { Directory = temp.Path, ChunkSize = 1024 * 1024, WalSegmentSize = 1024 * 1024, IndexMemorySize = 4 * 1024 * 1024 };
        await using (var store = await ChunkStore.OpenAsync(options, cancellationToken: Ct))
        {
            await store.CreateAsync(1, 1, Ct);
            await store.AppendAsync(1, StoreHarness.Bytes(1000, 1), 1, Ct);
        }

        // Only the first fdatasync fails; the store must refuse the later mutations although the disk "recovered".
        using (var child = CrashWriterProcess.StartUnder("strace", ["-f", "-qq", "-o", "/dev/null", "-e", "trace=fdatasync", "-e", "inject=fdatasync:error=EIO:when=1"], "eio", temp.Path))
        {
            var exit = await child.WaitExitAsync(TimeSpan.FromSeconds(120));
            var results = child.Output.Where(l => l is "ok" || l.StartsWith("err ", StringComparison.Ordinal)).ToList();
            Assert.True(exit == 0, $"writer exit {exit}:\n{child.OutputText}");
            Assert.Equal(["err DiskFailed", "err DiskFailed", "err DiskFailed"], results);
        }

        await using (var store = await ChunkStore.OpenAsync(options, cancellationToken: Ct))
        {
            Assert.Equal(new ChunkInfo(1, 1, 1000, false), store.GetChunk(1));
            Assert.Equal(StoreHarness.Bytes(1000, 1), await StoreHarness.ReadAllAsync(store, 1));
        }
    }
}
