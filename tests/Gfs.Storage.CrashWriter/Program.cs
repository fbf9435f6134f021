using Gfs.Storage;

// usage:
//   random DIR JOURNAL SEED [WRITERS [MAXOPEN]]   write, append, overwrite, re-version and delete at random until killed
//                             (MAXOPEN: ChunkStoreOptions.MaxOpenFiles, so that chunk files are closed and reopened all the time);
//                             each operation is journaled as "B ..." before and "A ..." after its acknowledgement; most appends
//                             carry a record-append identity (client id, sequence), journaled after the version
//   eio DIR                   run under syscall fault injection: try mutations and print each outcome
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: Gfs.Storage.CrashWriter random DIR JOURNAL SEED [WRITERS [MAXOPEN]] | eio DIR");
    return 2;
}

var options = new ChunkStoreOptions
{
    Directory = args[1],
    ChunkSize = 1024 * 1024,
    WalSegmentSize = 1024 * 1024,
    IndexMemorySize = 4 * 1024 * 1024,
    CheckpointInterval = TimeSpan.FromMilliseconds(250),
    CheckpointWalBytes = 2 * 1024 * 1024,
    MaxOpenFiles = args.Length > 5 ? int.Parse(args[5], System.Globalization.CultureInfo.InvariantCulture) : 1024,
};

await using var store = await ChunkStore.OpenAsync(options);
Console.WriteLine("ready");
Console.Out.Flush();

if (args[0] == "eio")
{
    foreach (var chunk in store.ListChunks())
    {
        for (var i = 0; i < 3; i++)
        {
            try
            {
                await store.AppendAsync(chunk.Handle, new byte[4096], chunk.Version);
                Console.WriteLine("ok");
            }
            catch (ChunkStoreException e)
            {
                Console.WriteLine("err " + e.Error);
            }
        }
    }

    Console.Out.Flush();
    return 0;
}

// Several writers, each on its own chunks (handle % writers) with its own journal JOURNAL.<w>, so their
// commits meet in the store's group commit.
var journalPath = args[2];
var seed = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
var writers = args.Length > 4 ? int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) : 1;
await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(() => WriterAsync(w))));
return 0;

async Task WriterAsync(int w)
{
    var random = new Random(seed + w);

    // A client id of its own per run and writer, so that sequences never repeat on a chunk across runs.
    var clientId = ((long)seed << 8) | (uint)w;
    long sequence = 0;
    await using var journalFile = new FileStream($"{journalPath}.{w}", FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0);
    await using var journal = new StreamWriter(journalFile) { AutoFlush = true };
    while (true)
    {
        var chunks = store.ListChunks().Where(c => (c.Handle - 1) % writers == w).ToList();
        var roll = random.NextDouble();
        var dataSeed = random.Next();
        if (chunks.Count < 3 || roll < 0.04)
        {
            var handle = chunks.Count == 0 ? w + 1 : chunks.Max(c => c.Handle) + writers;
            journal.WriteLine($"B create {handle} 0 0 {dataSeed} 1");
            await store.CreateAsync(handle, 1);
            journal.WriteLine("A 0");
            continue;
        }

        var c = chunks[random.Next(chunks.Count)];
        var room = options.ChunkSize - c.Length;
        if (roll < 0.45 && room > 0)
        {
            var length = (int)Math.Min(room, random.Next(1, 150_000));
            var id = new AppendId(clientId, ++sequence);
            journal.WriteLine($"B append {c.Handle} {c.Length} {length} {dataSeed} {c.Version} {id.ClientId} {id.Sequence}");
            var offset = random.Next(2) == 0
                ? await store.AppendAsync(c.Handle, Bytes(length, dataSeed), c.Version, id)
                : await WriteAtEndAsync(c, length, dataSeed, id);
            journal.WriteLine($"A {offset}");
        }
        else if (roll < 0.55 && room > 0)
        {
            var length = (int)Math.Min(room, random.Next(1, 150_000));
            journal.WriteLine($"B append {c.Handle} {c.Length} {length} {dataSeed} {c.Version}");
            var offset = await store.AppendAsync(c.Handle, Bytes(length, dataSeed), c.Version);
            journal.WriteLine($"A {offset}");
        }
        else if (roll < 0.85 && c.Length > 0)
        {
            var offset = random.NextInt64(c.Length);
            var length = (int)Math.Min(options.ChunkSize - offset, random.Next(1, 100_000));
            journal.WriteLine($"B write {c.Handle} {offset} {length} {dataSeed} {c.Version}");
            await store.WriteAsync(c.Handle, offset, Bytes(length, dataSeed), c.Version);
            journal.WriteLine($"A {offset}");
        }
        else if (roll < 0.95)
        {
            journal.WriteLine($"B version {c.Handle} 0 0 {dataSeed} {c.Version + 1}");
            await store.SetVersionAsync(c.Handle, c.Version + 1);
            journal.WriteLine("A 0");
        }
        else if (chunks.Count > 4)
        {
            journal.WriteLine($"B delete {c.Handle} 0 0 {dataSeed} {c.Version}");
            await store.DeleteAsync(c.Handle);
            journal.WriteLine("A 0");
        }
    }
}

// As a secondary applies a record: a write at the chunk's end that names the record's identity.
async Task<long> WriteAtEndAsync(ChunkInfo chunk, int length, int dataSeed, AppendId id)
{
    await store.WriteAsync(chunk.Handle, chunk.Length, Bytes(length, dataSeed), chunk.Version, id);
    return chunk.Length;
}

static byte[] Bytes(int length, int seed)
{
    var b = new byte[length];
    new Random(seed).NextBytes(b);
    return b;
}
