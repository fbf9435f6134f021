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
        Lengths = new LengthReporter(data);
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

    /// <summary>Stops the periodic <see cref="Sweep"/> (the client is being disposed).</summary>
    public void StopSweeping() => sweeper.Dispose();

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
    /// raises the version; a stale version or lost lease takes a new lease; a busy server (a full push
    /// buffer down the chain, too many mutations waiting) is kept and tried again; the same bytes are then
    /// pushed and committed again, with backoff and jitter, until <see cref="GfsClientOptions.OperationTimeout"/>.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="index">The chunk index.</param>
    /// <param name="allocate">Allocate the chunk if the file has exactly <paramref name="index"/> chunks.</param>
    /// <param name="data">The bytes to push.</param>
    /// <param name="commit">Sends the mutation (naming the pushed or inline data) to the primary; returns its result and the secondaries that did not apply it.</param>
    /// <param name="leased">Called once when the first lease is held (or could not be had).</param>
    /// <param name="beforeCommit">Awaited once before the first commit (to keep commits of a chunk in order).</param>
    /// <param name="cancellationToken">Cancels the mutation.</param>
    public async Task<T> MutateChunkAsync<T>(
        string path,
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
        ChunkLease lease;
        try
        {
            lease = await Leases.GetAsync(path, index, allocate, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            leased?.Invoke();
        }

        var crc = Crc32C(data.Span);
        List<string> failed = [];
        var renew = false;
        var ordered = beforeCommit is null;
        string? dataId = null;
        long pushedVersion = 0;
        GfsException? last = null;
        while (true)
        {
            if (renew || failed.Count > 0)
            {
                lease = await Leases.RenewAsync(path, index, allocate, lease, failed, cancellationToken).ConfigureAwait(false);
                failed = [];
                renew = false;
                dataId = null;
            }

            if (dataId is null && data.Length <= Math.Min(Options.InlineBytes, ChunkRoutes.MaxInlineBytes))
            {
                dataId = "";
                pushedVersion = lease.Version;
            }

            if (dataId is null)
            {
                try
                {
                    var id = NextDataId();
                    var header = new PushHeader { DataId = id, Length = data.Length, Crc32C = crc, Chain = [.. lease.Chunk.Replicas.Skip(1).Select(r => r.Url)] };
                    var pushed = await PushAsync(lease, header, data, cancellationToken).ConfigureAwait(false);
                    if (pushed.Failed.Count > 0)
                    {
                        failed = lease.ServersAt(pushed.Failed);
                        last = new GfsException(ErrorCode.Unavailable, $"{path} chunk {index}: push did not reach {string.Join(", ", pushed.Failed)}");
                    }
                    else if (pushed.Busy.Count > 0)
                    {
                        // A full push buffer down the chain: push again after the backoff, to the same replicas.
                        last = new GfsException(ErrorCode.Busy, $"{path} chunk {index}: push refused by busy {string.Join(", ", pushed.Busy)}");
                    }
                    else
                    {
                        dataId = id;
                        pushedVersion = lease.Version;
                    }
                }
                catch (GfsException e) when (!cancellationToken.IsCancellationRequested)
                {
                    last = e;
                    OnFailure(e, lease.First.ServerId);
                }
            }

            if (dataId is not null && !ordered)
            {
                ordered = true;
                await beforeCommit!().ConfigureAwait(false);
                if (Leases.Peek(path, index) is { } current && current.Version != pushedVersion)
                {
                    // Earlier mutations changed the lease meanwhile: the data may sit on a replica that is gone.
                    lease = current;
                    dataId = null;
                    continue;
                }
            }

            if (dataId is not null)
            {
                try
                {
                    var payload = dataId.Length == 0 ? new MutationData("", data, crc) : new MutationData(dataId, default, 0);
                    var (result, failedReplicas) = await commit(lease, payload, cancellationToken).ConfigureAwait(false);
                    if (failedReplicas.Count == 0)
                    {
                        return result;
                    }

                    failed = failedReplicas;
                    last = new GfsException(ErrorCode.Unavailable, $"{path} chunk {index}: not applied on {string.Join(", ", failedReplicas)}");
                }
                catch (GfsException e) when (!cancellationToken.IsCancellationRequested)
                {
                    last = e;
                    OnFailure(e, lease.Primary.ServerId);
                }
            }

            var delay = backoff.Next();
            last ??= new GfsException(ErrorCode.Unavailable, $"{path} chunk {index}: no attempt succeeded");
            if (Time.GetElapsedTime(started) + delay > Options.OperationTimeout)
            {
                throw new GfsException(
                    last.Code is ErrorCode.Unavailable or ErrorCode.DeadlineExceeded or ErrorCode.StaleVersion or ErrorCode.LeaseExpired or ErrorCode.Busy ? ErrorCode.Unavailable : last.Code,
                    $"{path} chunk {index}: gave up after {Options.OperationTimeout.TotalSeconds:0.#} s; last error: {last.Message}",
                    last);
            }

            await Task.Delay(delay, Time, cancellationToken).ConfigureAwait(false);
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

    /// <summary>Waits for background work (length reports, replica reports) to finish.</summary>
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
