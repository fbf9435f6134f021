using System.IO.Hashing;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;

namespace Gfs.Client.Data;

/// <summary>
/// What the write, read and append paths of one client share: the data-path seam, the location and
/// lease caches, the background length reports, and the retry driver of chunk mutations.
/// </summary>
internal sealed class ClientCore
{
    private readonly string dataIdPrefix;
    private long nextDataId;
    private long nextSequence;

    public ClientCore(GfsClientOptions options, IDataPath data, long clientId)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.PieceSize, 64 * 1024, nameof(options.PieceSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.WritePiecesInFlight, 1, nameof(options.WritePiecesInFlight));
        ArgumentOutOfRangeException.ThrowIfNegative(options.ReadAhead, nameof(options.ReadAhead));
        Options = options;
        Data = data;
        ClientId = clientId;
        Time = options.Time;
        Locations = new LocationCache(data, options);
        Leases = new LeaseCache(data, Locations, options);
        Lengths = new LengthReporter(data, options);
        dataIdPrefix = clientId.ToString("x", System.Globalization.CultureInfo.InvariantCulture) + "-";
        var every = options.LocationCacheTtl > TimeSpan.FromSeconds(1) ? options.LocationCacheTtl : TimeSpan.FromSeconds(1);
        sweeper = Time.CreateTimer(static core => ((ClientCore)core!).Sweep(), this, every, every);
    }

    private readonly ITimer sweeper;

    /// <summary>
    /// Forgets cache entries that can no longer be used (stale locations, ended leases, paths with
    /// every length sent): run every <see cref="GfsClientOptions.LocationCacheTtl"/> (at least 1 s),
    /// so a long-running client's memory follows the files it uses now, not every file it touched.
    /// </summary>
    public (int Files, int Leases, int Lengths) Sweep() => (Locations.Sweep(), Leases.Sweep(), Lengths.Sweep());

    /// <summary>Stops the periodic <see cref="Sweep"/> and the length reports still being retried (the client is being disposed).</summary>
    public void Stop()
    {
        sweeper.Dispose();
        Lengths.Stop();
    }

    public GfsClientOptions Options { get; }

    public IDataPath Data { get; }

    public long ClientId { get; }

    public TimeProvider Time { get; }

    public LocationCache Locations { get; }

    public LeaseCache Leases { get; }

    public LengthReporter Lengths { get; }

    /// <summary>Replica reports still being sent.</summary>
    private int reportsInFlight;

    /// <summary>A fresh record-append sequence number of this client.</summary>
    public long NextSequence() => Interlocked.Increment(ref nextSequence);

    /// <summary>A fresh data id for a push (unique per client).</summary>
    public string NextDataId() => dataIdPrefix + Interlocked.Increment(ref nextDataId).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Pushes a piece down the lease's chain of replicas, nearest first (each hop pulls from the one before while it receives).</summary>
    private Task<PushReply> PushAsync(ChunkLease lease, PushHeader header, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        => Data.PushAsync(new Uri(lease.First.Url), header, data, cancellationToken);

    /// <summary>CRC32C of pushed or inline data.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data) => Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data);

    /// <summary>Tells the master (in the background, best effort) that a replica failed this client.</summary>
    public void ReportReplica(long handle, long version, string serverId, ReplicaProblem problem, string detail)
    {
        var report = new ReportReplicaRequest { Handle = handle, Version = version, ServerId = serverId, Problem = problem, Detail = detail };
        Interlocked.Increment(ref reportsInFlight);
        _ = SendAsync();

        async Task SendAsync()
        {
            try
            {
                await Data.ReportReplicaAsync(report, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Best effort: the master also learns of bad replicas from chunk reports and scrubbing.
            }
            finally
            {
                Interlocked.Decrement(ref reportsInFlight);
            }
        }
    }

    /// <summary>
    /// Runs one chunk mutation to acknowledgement: lease, push <paramref name="data"/> to the nearest
    /// replica with the others as the chain (or, for at most <see cref="GfsClientOptions.InlineBytes"/>,
    /// carry it inline in the commit: one round trip fewer), then <paramref name="commit"/> to the primary. A failed
    /// replica (in a push reply, a commit reply, or unreachable) is left out of the next lease, which
    /// raises the version; a stale version or lost lease takes a new lease; a lease the master cannot
    /// give yet (it waits for an earlier lease to end: Unavailable) is asked for again; a busy server (a
    /// full push buffer down the chain, too many mutations waiting) is kept and tried again; the same
    /// bytes are then pushed and committed again, with backoff and jitter, until the deadline of <see cref="Deadline"/>.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="fileId">The inode id of the file the caller opened (leases of another file at the path are refused: FileReplaced).</param>
    /// <param name="index">The chunk index.</param>
    /// <param name="allocate">Allocate the chunk if the file has exactly <paramref name="index"/> chunks.</param>
    /// <param name="data">The bytes to push.</param>
    /// <param name="commit">Sends the mutation (naming the pushed or inline data) to the primary; returns its result and the secondaries that did not apply it.</param>
    /// <param name="leased">Called once when the first lease is held (or the mutation failed without one).</param>
    /// <param name="beforeCommit">Awaited once before the first commit (to keep commits of a chunk in order).</param>
    /// <param name="cancellationToken">Cancels the mutation.</param>
    public async Task<T> MutateChunkAsync<T>(
        string path,
        long fileId,
        int index,
        bool allocate,
        ReadOnlyMemory<byte> data,
        Func<ChunkLease, MutationData, CancellationToken, Task<(T Result, List<string> FailedReplicas)>> commit,
        Action? leased,
        Func<Task>? beforeCommit,
        CancellationToken cancellationToken)
    {
        var started = Time.GetTimestamp();
        var backoff = new Backoff(Options.InitialRetryDelay, Options.MaxRetryDelay);
        var crc = Crc32C(data.Span);
        ChunkLease? lease = null; // the last lease held
        ChunkLease? waitingOn = null; // the last lease whose primary failed us: the master waits for its end before it names another
        List<string> failed = [];
        var renew = false;
        var ordered = beforeCommit is null;
        string? dataId = null;
        long pushedVersion = 0;
        GfsException? last = null;
        try
        {
            while (true)
            {
                if (lease is not null && failed.Contains(lease.Primary.ServerId, StringComparer.Ordinal))
                {
                    waitingOn = lease;
                }

                if (lease is null || renew || failed.Count > 0)
                {
                    try
                    {
                        lease = lease is null && failed.Count == 0
                            ? await Leases.GetAsync(path, fileId, index, allocate, cancellationToken).ConfigureAwait(false)
                            : await Leases.RenewAsync(path, fileId, index, allocate, lease, failed, cancellationToken).ConfigureAwait(false);
                        failed = [];
                        renew = false;
                        dataId = null;
                        Signal();
                    }
                    catch (GfsException e) when (Retry.IsTransientMasterError(e) && !cancellationToken.IsCancellationRequested)
                    {
                        // No leader, or the leader waits for an earlier lease to end: ask again (still without the failed servers).
                        last = e;
                    }
                }

                if (lease is not null && !renew && failed.Count == 0)
                {
                    if (await AttemptAsync(lease).ConfigureAwait(false) is { } done)
                    {
                        return done.Result;
                    }
                }

                var delay = backoff.Next();
                last ??= new GfsException(ErrorCode.Unavailable, $"{path} chunk {index}: no attempt succeeded");
                var deadline = Deadline(started, waitingOn);
                if (Time.GetElapsedTime(started) + delay > deadline)
                {
                    throw new GfsException(
                        last.Code is ErrorCode.Unavailable or ErrorCode.DeadlineExceeded or ErrorCode.StaleVersion or ErrorCode.LeaseExpired or ErrorCode.NotLeader or ErrorCode.Busy ? ErrorCode.Unavailable : last.Code,
                        $"{path} chunk {index}: gave up after {deadline.TotalSeconds:0.#} s; last error: {last.Message}",
                        last);
                }

                await Task.Delay(delay, Time, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            Signal();
        }

        void Signal()
        {
            if (leased is not null)
            {
                leased();
                leased = null;
            }
        }

        // One push and commit under the lease; null when it failed in a way worth retrying (failed, renew and last say how).
        async Task<Box<T>?> AttemptAsync(ChunkLease current)
        {
            if (dataId is null && data.Length <= Math.Min(Options.InlineBytes, ChunkRoutes.MaxInlineBytes))
            {
                dataId = "";
                pushedVersion = current.Version;
            }

            if (dataId is null)
            {
                try
                {
                    var id = NextDataId();
                    var header = new PushHeader { DataId = id, Length = data.Length, Crc32C = crc, Chain = [.. current.Chunk.Replicas.Skip(1).Select(r => r.Url)] };
                    var pushed = await PushAsync(current, header, data, cancellationToken).ConfigureAwait(false);
                    if (pushed.Failed.Count > 0)
                    {
                        failed = current.ServersAt(pushed.Failed);
                        last = new GfsException(ErrorCode.Unavailable, $"{path} chunk {index}: push did not reach {string.Join(", ", pushed.Failed)}");
                        return null;
                    }

                    if (pushed.Busy.Count > 0)
                    {
                        // A full push buffer down the chain: push again after the backoff, to the same replicas.
                        last = new GfsException(ErrorCode.Busy, $"{path} chunk {index}: push refused by busy {string.Join(", ", pushed.Busy)}");
                        return null;
                    }

                    dataId = id;
                    pushedVersion = current.Version;
                }
                catch (GfsException e) when (!cancellationToken.IsCancellationRequested)
                {
                    last = e;
                    OnFailure(e, current.First.ServerId);
                    return null;
                }
            }

            if (!ordered)
            {
                ordered = true;
                await beforeCommit!().ConfigureAwait(false);
                if (Leases.Peek(path, fileId, index) is { } newer && newer.Version != pushedVersion)
                {
                    // Earlier mutations changed the lease meanwhile: the data may sit on a replica that is gone.
                    lease = newer;
                    dataId = null;
                    return await AttemptAsync(newer).ConfigureAwait(false);
                }
            }

            try
            {
                var payload = dataId.Length == 0 ? new MutationData("", data, crc) : new MutationData(dataId, default, 0);
                var (result, failedReplicas) = await commit(current, payload, cancellationToken).ConfigureAwait(false);
                if (failedReplicas.Count == 0)
                {
                    current.MarkUsed(Time.GetTimestamp());
                    return new Box<T>(result);
                }

                failed = failedReplicas;
                last = new GfsException(ErrorCode.Unavailable, $"{path} chunk {index}: not applied on {string.Join(", ", failedReplicas)}");
            }
            catch (GfsException e) when (!cancellationToken.IsCancellationRequested)
            {
                last = e;
                OnFailure(e, current.Primary.ServerId);
            }

            return null;
        }

        void OnFailure(GfsException e, string server)
        {
            switch (Retry.OnChunkserverError(e))
            {
                case FailureAction.Fail:
                    throw e;
                case FailureAction.ReleaseWithout:
                    failed = [server];
                    break;
                default:
                    renew = true;
                    break;
            }

            Locations.InvalidateChunk(path, index);
        }
    }

    /// <summary>
    /// How long after <paramref name="started"/> a chunk mutation may keep retrying: the later of
    /// <see cref="GfsClientOptions.OperationTimeout"/> and, when the primary of a lease this mutation
    /// held failed it (<paramref name="failedPrimary"/>), that lease's end on the master plus
    /// <see cref="GfsClientOptions.LeaseRecoveryMargin"/>. The master names a new primary only once
    /// the old lease has ended, so an unreachable primary cannot be replaced sooner; giving up earlier
    /// would fail a write the system could still complete. The end is the lease's remaining time from
    /// when it was obtained or, later, last used: a primary's lease is extended while mutations flow.
    /// Only a failed primary extends the deadline: a new lease that is refused for other reasons
    /// (stale version, lost lease) can be had at once, and retrying it goes on for <see cref="GfsClientOptions.OperationTimeout"/>.
    /// </summary>
    internal TimeSpan Deadline(long started, ChunkLease? failedPrimary)
    {
        if (failedPrimary is null)
        {
            return Options.OperationTimeout;
        }

        var from = Math.Max(failedPrimary.ObtainedAt, failedPrimary.LastUsedAt);
        var leaseEnd = Time.GetElapsedTime(started, from) + TimeSpan.FromMilliseconds(failedPrimary.Reply.LeaseRemainingMs);
        var recovered = leaseEnd + Options.LeaseRecoveryMargin;
        return recovered > Options.OperationTimeout ? recovered : Options.OperationTimeout;
    }

    /// <summary>A result that may be a default value (a struct or null) but is there.</summary>
    private sealed record Box<T>(T Result);

    /// <summary>Waits for background work (length reports, within their bound; replica reports) to finish.</summary>
    public async Task DrainAsync()
    {
        await Lengths.DrainAsync().ConfigureAwait(false);
        var spins = 0;
        while (Volatile.Read(ref reportsInFlight) > 0 && spins++ < 100)
        {
            await Task.Delay(10).ConfigureAwait(false);
        }
    }
}

/// <summary>What a commit names: pushed data by its id, or the bytes inline (<see cref="DataId"/> empty) with their CRC32C.</summary>
internal readonly record struct MutationData(string DataId, ReadOnlyMemory<byte> Inline, uint Crc32C);
