using System.Globalization;
using Gfs.Storage.Chunks;
using Gfs.Storage.Index;
using Gfs.Storage.Io;
using Gfs.Storage.Wal;

namespace Gfs.Storage;

public sealed partial class ChunkStore
{
    private const string FormatFile = "STORE";
    private const string FormatName = "gfs-chunk-store";

    /// <summary>
    /// 2: index records may carry an append table (format 2) and the log Append records. A store of format 1 (from
    /// before record-append identities) holds neither and opens as it is; it is marked 2 at once, since from then
    /// on it may hold both, which a binary that knows only format 1 cannot read.
    /// </summary>
    private const int FormatVersion = 2;

    /// <summary>
    /// Opens (or creates) a store: recovers the index checkpoint, replays the log after it (repeating journaled
    /// overwrites), cuts chunk files longer than their committed length, flags shorter or missing ones as
    /// corrupt and deletes orphan files. Flagged chunks are listed with <see cref="ChunkInfo.IsCorrupt"/>.
    /// </summary>
    public static async Task<ChunkStore> OpenAsync(ChunkStoreOptions options, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var store = await Task.Run(() => Open(options, timeProvider ?? TimeProvider.System), cancellationToken).ConfigureAwait(false);
        if (options.VerifyAtStart)
        {
            try
            {
                // Every block of every chunk, before the store is handed out; damaged chunks are flagged (IsCorrupt).
                foreach (var state in store.chunks.Values.Where(s => !s.Corrupt).ToList())
                {
                    if (await store.VerifyStateAsync(state, static (_, _) => default, cancellationToken).ConfigureAwait(false) is { } damage)
                    {
                        state.CorruptReason = damage.Message;
                    }
                }
            }
            catch
            {
                await store.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        return store;
    }

    private static ChunkStore Open(ChunkStoreOptions options, TimeProvider time)
    {
        var root = Path.GetFullPath(options.Directory);
        var chunkDirectory = Path.Combine(root, "chunks");
        Directory.CreateDirectory(chunkDirectory);
        CheckFormat(root, options.ChunkSize);

        var maxBlocks = (int)(options.ChunkSize / Block);
        var index = new FasterChunkIndex(Path.Combine(root, "index"), maxBlocks, options.IndexMemorySize);
        WriteAheadLog? wal = null;
        try
        {
            var (records, appends, position) = index.Recover();
            var replay = new Replay(records, appends);
            wal = WriteAheadLog.Open(Path.Combine(root, "wal"), options.WalSegmentSize, options.Failpoints, position, replay.Apply);

            var states = new Dictionary<long, ChunkState>();
            foreach (var (handle, record) in records)
            {
                var path = Path.Combine(chunkDirectory, handle.ToString("x16", CultureInfo.InvariantCulture) + ChunkExtension);
                states[handle] = new ChunkState(handle, path) { Record = record, Appends = appends.GetValueOrDefault(handle), Exists = true, LastMutation = time.GetTimestamp() };
            }

            replay.Redo(states, options.Failpoints);
            ReconcileFiles(chunkDirectory, states, options.Failpoints);
            return new ChunkStore(options, time, index, wal, states, replay.Touched, replay.Deleted);
        }
        catch
        {
            wal?.Dispose();
            index.Dispose();
            throw;
        }
    }

    private static string FormatText(int version, long chunkSize) => $"{FormatName} {version}\nchunk-size {chunkSize}\n";

    /// <summary>Checks (or writes) the store's identification file; a store of an earlier format is marked as the current one.</summary>
    private static void CheckFormat(string root, long chunkSize)
    {
        var path = Path.Combine(root, FormatFile);
        var expected = FormatText(FormatVersion, chunkSize);
        if (File.Exists(path))
        {
            var text = File.ReadAllText(path);
            var version = Enumerable.Range(1, FormatVersion).FirstOrDefault(v => text.StartsWith($"{FormatName} {v}\n", StringComparison.Ordinal));
            if (version == 0)
            {
                throw new ChunkStoreException(ChunkStoreError.InvalidArgument, $"{root} is not a chunk store of a known format");
            }

            if (text != FormatText(version, chunkSize))
            {
                throw new ChunkStoreException(ChunkStoreError.InvalidArgument, $"{root} was created with different settings ({text.Replace('\n', ' ').Trim()}); chunk size {chunkSize} was asked for");
            }

            if (version == FormatVersion)
            {
                return;
            }
        }

        var temp = path + ".tmp";
        using (var file = File.OpenHandle(temp, FileMode.Create, FileAccess.ReadWrite))
        {
            RandomAccess.Write(file, System.Text.Encoding.ASCII.GetBytes(expected), 0);
            var rc = Posix.DataSync(file, Failpoints.ChunkSync, null);
            if (rc != 0)
            {
                throw new ChunkStoreException(ChunkStoreError.DiskFailed, $"fdatasync of {temp} failed: errno {rc}");
            }
        }

        File.Move(temp, path, overwrite: true); // rename(2): the old file or the new one, never neither
        var dirRc = Posix.SyncDirectory(root);
        if (dirRc != 0)
        {
            throw new ChunkStoreException(ChunkStoreError.DiskFailed, $"fsync of {root} failed: errno {dirRc}");
        }
    }

    /// <summary>Makes the chunk files agree with the committed index.</summary>
    private static void ReconcileFiles(string chunkDirectory, Dictionary<long, ChunkState> states, Failpoints? faults)
    {
        var seen = new HashSet<long>();
        var changedDirectory = false;
        foreach (var path in Directory.EnumerateFiles(chunkDirectory))
        {
            var name = Path.GetFileName(path);
            if (!name.EndsWith(ChunkExtension, StringComparison.Ordinal)
                || !long.TryParse(name[..^ChunkExtension.Length], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var handle)
                || !states.TryGetValue(handle, out var state))
            {
                File.Delete(path); // an orphan: created or deleted around a crash, never committed
                changedDirectory = true;
                continue;
            }

            seen.Add(handle);
            var committed = state.Record.Length;
            var length = new FileInfo(path).Length;
            if (length > committed)
            {
                // Bytes written but never committed: cut them (this also frees space reserved past the end).
                using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
                RandomAccess.SetLength(file, committed);
                var rc = Posix.DataSync(file, Failpoints.ChunkSync, faults);
                if (rc != 0)
                {
                    throw new ChunkStoreException(ChunkStoreError.DiskFailed, $"fdatasync of {path} failed: errno {rc}");
                }
            }
            else if (length < committed)
            {
                state.Corrupt = true;
                state.CorruptReason = $"the chunk file holds {length} bytes but {committed} are committed";
            }
        }

        foreach (var (handle, state) in states)
        {
            if (!seen.Contains(handle))
            {
                state.Corrupt = true;
                state.CorruptReason = "the chunk file is missing";
            }
        }

        if (changedDirectory)
        {
            var rc = Posix.SyncDirectory(chunkDirectory);
            if (rc != 0)
            {
                throw new ChunkStoreException(ChunkStoreError.DiskFailed, $"fsync of {chunkDirectory} failed: errno {rc}");
            }
        }
    }

    /// <summary>Applies log records to the recovered records and append tables, remembering journaled overwrites to repeat.</summary>
    private sealed class Replay(Dictionary<long, ChunkRecord> records, Dictionary<long, AppendTable> appends)
    {
        private readonly List<(long Address, long Handle, long Offset, byte[] Data)> redo = [];
        private readonly Dictionary<long, long> lastCreate = [];

        public HashSet<long> Touched { get; } = [];

        public HashSet<long> Deleted { get; } = [];

        public void Apply(long address, ReadOnlySpan<byte> payload)
        {
            var r = WalRecord.Decode(payload);
            switch (r.Type)
            {
                case WalRecord.Create:
                    records[r.Handle] = new ChunkRecord(r.Version, 0, []);
                    appends.Remove(r.Handle);
                    lastCreate[r.Handle] = address;
                    Touched.Add(r.Handle);
                    Deleted.Remove(r.Handle);
                    break;
                case WalRecord.Delete:
                    records.Remove(r.Handle);
                    appends.Remove(r.Handle);
                    Touched.Remove(r.Handle);
                    Deleted.Add(r.Handle);
                    break;
                default:
                    if (!records.TryGetValue(r.Handle, out var old))
                    {
                        throw new ChunkStoreException(ChunkStoreError.DiskFailed, $"write-ahead log updates chunk {r.Handle:x16}, which does not exist");
                    }

                    var crcs = new uint[ChunkRecord.BlockCount(r.Length)];
                    old.Checksums.AsSpan(0, Math.Min(old.Checksums.Length, crcs.Length)).CopyTo(crcs);
                    var count = r.Crcs.Length / 4;
                    for (var i = 0; i < count; i++)
                    {
                        crcs[r.FirstBlock + i] = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(r.Crcs[(4 * i)..]);
                    }

                    records[r.Handle] = new ChunkRecord(r.Version, r.Length, crcs);
                    Touched.Add(r.Handle);
                    if (r.Type == WalRecord.Overwrite)
                    {
                        redo.Add((address, r.Handle, r.Offset, r.Data.ToArray()));
                    }
                    else if (r.Type == WalRecord.Append)
                    {
                        if (!appends.TryGetValue(r.Handle, out var table))
                        {
                            appends[r.Handle] = table = new AppendTable();
                        }

                        table.Add(new AppendEntry(r.Identity.ClientId, r.Identity.Sequence, r.Offset));
                    }

                    break;
            }
        }

        /// <summary>Repeats journaled overwrites of chunks that still exist in the incarnation that made them.</summary>
        public void Redo(Dictionary<long, ChunkState> states, Failpoints? faults)
        {
            foreach (var group in redo.GroupBy(r => r.Handle))
            {
                if (!states.TryGetValue(group.Key, out var state) || !File.Exists(state.Path))
                {
                    continue;
                }

                var created = lastCreate.GetValueOrDefault(group.Key, long.MinValue);
                using var file = File.OpenHandle(state.Path, FileMode.Open, FileAccess.ReadWrite);
                foreach (var (address, _, offset, data) in group)
                {
                    if (address > created)
                    {
                        RandomAccess.Write(file, data, offset);
                    }
                }

                var rc = Posix.DataSync(file, Failpoints.ChunkSync, faults);
                if (rc != 0)
                {
                    throw new ChunkStoreException(ChunkStoreError.DiskFailed, $"fdatasync of {state.Path} failed: errno {rc}");
                }
            }
        }
    }
}
