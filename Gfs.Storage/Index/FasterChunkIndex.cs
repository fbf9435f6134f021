using System.Buffers.Binary;
using System.Numerics;
using FASTER.core;
using Gfs.Storage.Chunks;
using Gfs.Storage.Io;

namespace Gfs.Storage.Index;

/// <summary>
/// The chunk index in a FASTER key-value store (key: handle, value: a <see cref="ChunkRecord"/> of a fixed size per
/// store, so updates stay in place, plus the append table of a chunk that has one). Checkpoints are snapshots whose commit cookie carries the write-ahead log position;
/// recovery calls Recover() explicitly on each checkpoint, newest first (TryRecoverLatest would swallow errors
/// and yield an empty store, DESIGN.md §5). After a checkpoint every file under the index directory is
/// fsynced through our own P/Invoke, and checkpoints older than the previous one are removed.
/// </summary>
internal sealed class FasterChunkIndex : IChunkIndex
{
    private readonly string directory;
    private readonly int maxBlocks;
    private readonly int valueSize;
    private readonly long memorySize;
    private FasterKV<SpanByte, SpanByte>? store;
    private ClientSession<SpanByte, SpanByte, SpanByte, SpanByteAndMemory, Empty, SpanByteFunctions<Empty>>? session;
    private DeviceLogCommitCheckpointManager? checkpoints;
    private IDevice? device;
    private Guid? previousToken;
    private long previousPosition;
    private Guid? latestToken;
    private long latestPosition;

    public FasterChunkIndex(string directory, int maxBlocks, long memorySize)
    {
        this.directory = directory;
        this.maxBlocks = maxBlocks;
        valueSize = ChunkRecord.MaxSerializedSize(maxBlocks);
        this.memorySize = memorySize;
        Directory.CreateDirectory(directory);
    }

    private void Create()
    {
        DisposeStore();
        // removeOutdated: false — we keep the previous checkpoint ourselves as the fallback of a damaged newest one.
        checkpoints = new DeviceLogCommitCheckpointManager(
            new LocalStorageNamedDeviceFactory(),
            new DefaultCheckpointNamingScheme(Path.Combine(directory, "checkpoints")),
            removeOutdated: false);
        device = Devices.CreateLogDevice(Path.Combine(directory, "hlog"), preallocateFile: false, recoverDevice: true);
        var pageSize = 1L << 20;
        var settings = new FasterKVSettings<SpanByte, SpanByte>
        {
            IndexSize = 1L << 20,
            LogDevice = device,
            PageSize = pageSize,
            MemorySize = Math.Max(pageSize * 4, (long)BitOperations.RoundUpToPowerOf2((ulong)memorySize)),
            CheckpointManager = checkpoints,
            TryRecoverLatest = false,
            RemoveOutdatedCheckpoints = false,
        };
        store = new FasterKV<SpanByte, SpanByte>(settings);
    }

    private ClientSession<SpanByte, SpanByte, SpanByte, SpanByteAndMemory, Empty, SpanByteFunctions<Empty>> Session =>
        session ??= store!.For(new SpanByteFunctions<Empty>()).NewSession<SpanByteFunctions<Empty>>();

    public (Dictionary<long, ChunkRecord> Records, Dictionary<long, AppendTable> Appends, long LogPosition) Recover()
    {
        Create();
        // A checkpoint written by a run killed before our sync may live only in the page cache: make it durable first.
        SyncTree(directory);
        var tokens = checkpoints!.GetLogCheckpointTokens().ToList();
        Exception? last = null;
        for (var i = 0; i < tokens.Count; i++)
        {
            try
            {
                if (i > 0)
                {
                    Create();
                }

                store!.Recover(tokens[i]);
                var cookie = store.RecoveredCommitCookie ?? throw new InvalidDataException("checkpoint has no commit cookie");
                var position = BinaryPrimitives.ReadInt64LittleEndian(cookie);
                var records = new Dictionary<long, ChunkRecord>();
                var appends = new Dictionary<long, AppendTable>();
                using (var iterator = Session.Iterate())
                {
                    while (iterator.GetNext(out _))
                    {
                        var key = BinaryPrimitives.ReadInt64LittleEndian(iterator.GetKey().AsReadOnlySpan());
                        records[key] = ChunkRecord.Read(iterator.GetValue().AsReadOnlySpan(), maxBlocks, out var table);
                        if (table is null)
                        {
                            appends.Remove(key);
                        }
                        else
                        {
                            appends[key] = table;
                        }
                    }
                }

                latestToken = tokens[i];
                latestPosition = position;

                // Newer checkpoints that could not be read are removed, so they are not tried again.
                foreach (var unreadable in tokens.Take(i))
                {
                    try
                    {
                        checkpoints!.Purge(unreadable);
                    }
                    catch (Exception)
                    {
                    }
                }

                return (records, appends, position);
            }
            catch (Exception e)
            {
                last = e; // try the checkpoint before it
            }
        }

        if (tokens.Count > 0)
        {
            throw new ChunkStoreException(ChunkStoreError.DiskFailed, $"no index checkpoint of {tokens.Count} could be recovered", inner: last);
        }

        Create();
        return ([], [], 0);
    }

    public async Task<long> CheckpointAsync(IReadOnlyCollection<IndexUpsert> upserts, IReadOnlyCollection<long> deletes, long logPosition, CancellationToken cancellationToken)
    {
        var s = Session;
        var keyBytes = new byte[8];
        var valueBytes = new byte[valueSize];
        unsafe
        {
            fixed (byte* k = keyBytes, v = valueBytes)
            {
                foreach (var (handle, record, appends) in upserts)
                {
                    BinaryPrimitives.WriteInt64LittleEndian(keyBytes, handle);
                    var length = record.Write(valueBytes, maxBlocks, appends);
                    var key = SpanByte.FromPointer(k, keyBytes.Length);
                    var value = SpanByte.FromPointer(v, length);
                    s.Upsert(ref key, ref value);
                }

                foreach (var handle in deletes)
                {
                    BinaryPrimitives.WriteInt64LittleEndian(keyBytes, handle);
                    var key = SpanByte.FromPointer(k, keyBytes.Length);
                    s.Delete(ref key);
                }
            }
        }

        s.CompletePending(wait: true);
        var cookie = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(cookie, logPosition);
        store!.CommitCookie = cookie;
        var (success, token) = await store.TakeFullCheckpointAsync(CheckpointType.Snapshot, cancellationToken).ConfigureAwait(false);
        if (!success)
        {
            throw new InvalidDataException("the index checkpoint did not complete");
        }

        // FASTER reports success even when its writes failed (seen on a full disk: every checkpoint file empty).
        // An incomplete checkpoint is removed and counts as not taken; the log is then kept longer.
        var checkpointDirectories = new[] { "index-checkpoints", "cpr-checkpoints" }
            .Select(d => Path.Combine(directory, "checkpoints", d, token.ToString()))
            .ToList();
        var incomplete = checkpointDirectories.Any(d => !Directory.Exists(d)
            || !Directory.EnumerateFiles(d).Any()
            || Directory.EnumerateFiles(d).Any(f => new FileInfo(f).Length == 0));
        if (incomplete)
        {
            try
            {
                checkpoints!.Purge(token);
            }
            catch (Exception)
            {
                // Recovery skips a checkpoint it cannot read and falls back to the previous one.
            }

            throw new InvalidDataException($"index checkpoint {token} was written incompletely (disk full?)");
        }

        SyncTree(directory);

        // Keep the newest two checkpoints; the log is truncated up to the older one's position.
        var truncateTo = latestToken is null ? 0 : latestPosition;
        if (previousToken is { } old)
        {
            checkpoints!.Purge(old);
            _ = Posix.SyncDirectory(directory);
        }

        previousToken = latestToken;
        previousPosition = latestPosition;
        latestToken = token;
        latestPosition = logPosition;
        return truncateTo;
    }

    private static void SyncTree(string root)
    {
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            var rc = Posix.SyncFile(file);
            if (rc != 0)
            {
                throw new ChunkStoreException(ChunkStoreError.DiskFailed, $"fsync of {file} failed: errno {rc}");
            }
        }

        foreach (var dir in Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories).Append(root))
        {
            var rc = Posix.SyncDirectory(dir);
            if (rc != 0)
            {
                throw new ChunkStoreException(ChunkStoreError.DiskFailed, $"fsync of {dir} failed: errno {rc}");
            }
        }
    }

    private void DisposeStore()
    {
        session?.Dispose();
        session = null;
        store?.Dispose();
        store = null;
        device?.Dispose();
        device = null;
        checkpoints?.Dispose();
        checkpoints = null;
    }

    public void Dispose() => DisposeStore();
}
