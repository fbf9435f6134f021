using System.Buffers;
using System.Diagnostics;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gfs.Consensus;

/// <summary>
/// The DotNext state machine behind the <see cref="WriteAheadLog"/>: applies committed entries to an
/// <see cref="IReplicatedState"/>, hands results to proposers through <c>LogEntry.Context</c>, takes
/// full snapshots when the log has grown by <see cref="GfsRaftOptions.SnapshotLogBytes"/>, and installs
/// snapshots sent by the leader.
/// </summary>
/// <remarks>
/// Not a <see cref="SimpleStateMachine"/>: that one awaits the previous snapshot's whole serialisation at
/// the next apply, so apply stalls for as long as the state takes to write. Here apply only freezes the
/// state (copy-on-write, O(pages)) and the snapshot is written on the thread pool while apply goes on.
/// </remarks>
public sealed class ReplicatedStateMachine : IStateMachine, IAsyncDisposable
{
    private readonly IReplicatedState state;
    private readonly GfsRaftOptions options;
    private readonly ILogger logger;
    private readonly string directory;
    private readonly Lock snapshotLock = new();
    private volatile SnapshotFile? snapshot;
    private Task snapshotTask = Task.CompletedTask;
    private long appliedIndex;
    private long bytesSinceSnapshot;
    private bool restored;
    private volatile bool snapshotRequested;

    public ReplicatedStateMachine(IReplicatedState state, GfsRaftOptions options, ILogger<ReplicatedStateMachine>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(options);
        this.state = state;
        this.options = options;
        this.logger = logger ?? NullLogger<ReplicatedStateMachine>.Instance;
        directory = options.SnapshotDirectory;
        Directory.CreateDirectory(directory);

        // The WAL reads Snapshot.Index when it is created, possibly before RestoreAsync: find it now.
        snapshot = FindLatest();
        appliedIndex = snapshot?.Index ?? 0;
    }

    /// <summary>Index of the last entry applied to the state.</summary>
    public long AppliedIndex => Volatile.Read(ref appliedIndex);

    /// <summary>Index of the latest committed snapshot, 0 when there is none.</summary>
    public long SnapshotIndex => snapshot?.Index ?? 0;

    /// <summary>Snapshots taken by this member (not installed ones).</summary>
    public int SnapshotsTaken { get; private set; }

    /// <summary>Snapshots installed from the leader.</summary>
    public int SnapshotsInstalled { get; private set; }

    ISnapshot? ISnapshotManager.Snapshot => snapshot;

    private SnapshotFile? FindLatest()
        => Directory.EnumerateFiles(directory, "*" + SnapshotFile.Extension)
            .Select(SnapshotFile.TryParse)
            .OfType<SnapshotFile>()
            .MaxBy(s => s.Index);

    /// <summary>Loads the latest snapshot into the state. Call once before the node starts; apply calls it otherwise.</summary>
    public ValueTask RestoreAsync(CancellationToken token = default)
    {
        token.ThrowIfCancellationRequested();
        if (!restored)
        {
            restored = true;
            if (snapshot is { } latest)
            {
                var watch = Stopwatch.StartNew();
                using (var stream = latest.OpenRead())
                {
                    state.Restore(stream, latest.Index);
                }

                Log.Restored(logger, latest.Index, latest.Term, latest.Length ?? 0, watch.ElapsedMilliseconds);
            }
        }

        return ValueTask.CompletedTask;
    }

    async ValueTask<long> IStateMachine.ApplyAsync(LogEntry entry, CancellationToken token)
    {
        if (!restored)
        {
            await RestoreAsync(token).ConfigureAwait(false);
        }

        if (entry.Index <= appliedIndex)
        {
            return appliedIndex;
        }

        if (entry.IsSnapshot)
        {
            return await InstallSnapshotAsync(entry, token).ConfigureAwait(false);
        }

        var payload = PayloadOf(entry);
        if (!payload.IsEmpty)
        {
            if (CommandFraming.TryUnframe(payload, out var proposalId, out var command))
            {
                object? result;
                try
                {
                    result = state.Apply(command, entry.Index);
                }
                catch (Exception e)
                {
                    Log.ApplyThrew(logger, entry.Index, e);
                    result = null;
                }

                if (entry.Context is ProposalContext context && context.Id == proposalId)
                {
                    context.SetResult(result);
                }
            }
            else
            {
                Log.BadFraming(logger, entry.Index);
            }

            bytesSinceSnapshot += payload.Length;
        }

        Volatile.Write(ref appliedIndex, entry.Index);
        if ((bytesSinceSnapshot >= options.SnapshotLogBytes || snapshotRequested) && snapshotTask.IsCompleted)
        {
            snapshotRequested = false;
            BeginSnapshot(entry.Index, entry.Term);
        }

        return entry.Index;
    }

    private static ReadOnlySequence<byte> PayloadOf(in LogEntry entry)
    {
        if (entry.TryGetPayload(out var sequence))
        {
            return sequence;
        }

        var buffer = new ArrayBufferWriter<byte>();
        foreach (var segment in entry.GetPayload())
        {
            buffer.Write(segment.Span);
        }

        return new ReadOnlySequence<byte>(buffer.WrittenMemory);
    }

    /// <summary>Asks for a snapshot at the next applied entry, whatever the log size (tests, operators).</summary>
    public void RequestSnapshot() => snapshotRequested = true;

    private void BeginSnapshot(long index, long term)
    {
        var watch = Stopwatch.StartNew();
        var frozen = state.Freeze();
        var freezeMicroseconds = (long)watch.Elapsed.TotalMicroseconds;
        bytesSinceSnapshot = 0;
        snapshotTask = Task.Run(() => WriteSnapshot(frozen, index, term, freezeMicroseconds));
    }

    private void WriteSnapshot(IFrozenState frozen, long index, long term, long freezeMicroseconds)
    {
        var watch = Stopwatch.StartNew();
        var final = Path.Combine(directory, SnapshotFile.FileName(index, term));
        var temp = final + ".tmp";
        try
        {
            long length;
            using (var stream = new SyncingFileStream(temp))
            {
                frozen.WriteTo(stream);
                stream.Flush();
                length = stream.Length;
            }

            lock (snapshotLock)
            {
                // An installed snapshot may have overtaken this one; never go back.
                if (index <= SnapshotIndex)
                {
                    File.Delete(temp);
                    return;
                }

                // The rename must be durable before anything (log compaction) relies on the snapshot.
                File.Move(temp, final, overwrite: true);
                Posix.SyncDirectory(directory);
                snapshot = new SnapshotFile(final, index, term);
                SnapshotsTaken++;
            }

            Log.SnapshotWritten(logger, index, length, freezeMicroseconds, watch.ElapsedMilliseconds);
        }
        catch (Exception e)
        {
            Log.SnapshotFailed(logger, index, e);
            File.Delete(temp);
        }
    }

    private async ValueTask<long> InstallSnapshotAsync(LogEntry entry, CancellationToken token)
    {
        await snapshotTask.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var watch = Stopwatch.StartNew();
        var final = Path.Combine(directory, SnapshotFile.FileName(entry.Index, entry.Term));
        var temp = final + ".tmp";
        try
        {
            var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous);
            await using (stream.ConfigureAwait(false))
            {
                var writer = IAsyncBinaryWriter.Create(stream, new byte[256 * 1024]);
                await entry.WriteToAsync(writer, token).ConfigureAwait(false);
                await stream.FlushAsync(token).ConfigureAwait(false);
                Posix.Sync(stream.SafeFileHandle, temp);
            }

            var installed = new SnapshotFile(final, entry.Index, entry.Term);
            lock (snapshotLock)
            {
                File.Move(temp, final, overwrite: true);
                Posix.SyncDirectory(directory);
                snapshot = installed;
                SnapshotsInstalled++;
            }

            using (var read = installed.OpenRead())
            {
                state.Restore(read, entry.Index);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The state may be half-replaced: stopping the apply loop (fail-stop) is safer than diverging.
            Log.InstallFailed(logger, entry.Index, e);
            throw;
        }

        restored = true;
        bytesSinceSnapshot = 0;
        Volatile.Write(ref appliedIndex, entry.Index);
        Log.SnapshotInstalled(logger, entry.Index, entry.Term, watch.ElapsedMilliseconds);
        return entry.Index;
    }

    ValueTask ISnapshotManager.ReclaimGarbageAsync(long watermark, CancellationToken token)
    {
        var current = snapshot;
        foreach (var file in Directory.EnumerateFiles(directory, "*" + SnapshotFile.Extension))
        {
            token.ThrowIfCancellationRequested();
            if (SnapshotFile.TryParse(file) is { } old && old.Index < watermark && old.Index != current?.Index)
            {
                File.Delete(file);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Waits for a snapshot being written.</summary>
    public async ValueTask DisposeAsync() => await snapshotTask.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
}
