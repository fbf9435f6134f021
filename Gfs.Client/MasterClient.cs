using System.Security.Cryptography;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Master;
using Gfs.Client.Transport;

namespace Gfs.Client;

/// <summary>
/// Talks to the master group: finds the leader (any master redirects to it), retries across leader
/// changes and unreachable masters with backoff and jitter, and gives every mutation an
/// exactly-once identity that its retries reuse. Safe for concurrent use.
/// </summary>
public sealed class MasterClient : IDisposable
{
    private readonly RpcClient rpc;
    private readonly bool ownsRpc;
    private readonly IReadOnlyList<Uri> masters;
    private readonly SortedSet<long> completedAbove = [];
    private long issued;
    private long completedBelow;
    private TaskCompletionSource? windowMoved;
    private int nextMaster;
    private Uri? leader;

    /// <summary>Creates a client with its own transport.</summary>
    public MasterClient(GfsClientOptions options)
        : this(options, new RpcClient((options ?? throw new ArgumentNullException(nameof(options))).Transport), ownsRpc: true)
    {
    }

    /// <summary>Creates a client that shares <paramref name="rpc"/> (which it does not dispose).</summary>
    public MasterClient(GfsClientOptions options, RpcClient rpc)
        : this(options, rpc, ownsRpc: false)
    {
    }

    private MasterClient(GfsClientOptions options, RpcClient rpc, bool ownsRpc)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(rpc);
        if (options.Masters.Count == 0)
        {
            throw new ArgumentException("at least one master URL is required", nameof(options));
        }

        Options = options;
        masters = options.Masters;
        this.rpc = rpc;
        this.ownsRpc = ownsRpc;
        ClientId = (BitConverter.ToInt64(RandomNumberGenerator.GetBytes(8)) & long.MaxValue) | 1;
        nextMaster = RandomNumberGenerator.GetInt32(masters.Count);
    }

    /// <summary>The settings this client was created with.</summary>
    public GfsClientOptions Options { get; }

    /// <summary>This client's exactly-once identity (random, non-zero).</summary>
    public long ClientId { get; }

    /// <summary>The master this client currently believes leads, if any.</summary>
    public Uri? Leader => Volatile.Read(ref leader);

    /// <summary>
    /// Runs one namespace mutation exactly once, retrying across failovers. At most
    /// <see cref="MutationHeader.Window"/> mutations of one client are in flight; more wait.
    /// </summary>
    /// <exception cref="GfsException">The mutation failed (NotFound, AlreadyExists, …) or no leader answered within <see cref="GfsClientOptions.OperationTimeout"/>.</exception>
    public async Task<MutationReply> MutateAsync(NamespaceOp op, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(op);
        var requestId = await AcquireRequestIdAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var request = new MutationRequest { Header = new MutationHeader { ClientId = ClientId, RequestId = requestId }, Op = op };
            return await CallLeaderAsync<MutationRequest, MutationReply>(RouteOf(op.Kind), request, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Complete(requestId);
        }
    }

    /// <summary>
    /// Sends a request that carries an exactly-once identity to the leader, retrying across failovers
    /// with the same ids (<paramref name="build"/> gets the header once).
    /// </summary>
    public async Task<TResponse> CallExactlyOnceAsync<TRequest, TResponse>(string route, Func<MutationHeader, TRequest> build, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(build);
        var requestId = await AcquireRequestIdAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await CallLeaderAsync<TRequest, TResponse>(route, build(new MutationHeader { ClientId = ClientId, RequestId = requestId }), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Complete(requestId);
        }
    }

    /// <summary>Runs many namespace mutations in one request and one log entry, exactly once.</summary>
    public async Task<BatchReply> BatchAsync(IReadOnlyList<NamespaceOp> ops, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ops);
        var requestId = await AcquireRequestIdAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var request = new BatchRequest { Header = new MutationHeader { ClientId = ClientId, RequestId = requestId }, Ops = [.. ops] };
            return await CallLeaderAsync<BatchRequest, BatchReply>(MasterRoutes.Batch, request, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Complete(requestId);
        }
    }

    /// <summary>Returns the attributes of <paramref name="path"/> (a linearizable read on the leader).</summary>
    public Task<EntryAttributes> StatAsync(string path, CancellationToken cancellationToken = default)
        => CallLeaderAsync<PathRequest, EntryAttributes>(MasterRoutes.Stat, PathRequest.Of(path), cancellationToken);

    /// <summary>Returns one page of the directory <paramref name="path"/> (a linearizable read on the leader).</summary>
    public Task<ListReply> ListAsync(string path, string? startAfter = null, int limit = 0, CancellationToken cancellationToken = default)
        => CallLeaderAsync<PathRequest, ListReply>(MasterRoutes.List, PathRequest.Of(path, startAfter, limit), cancellationToken);

    /// <summary>Asks one specific master for its status (no redirect, no retry).</summary>
    public Task<StatusReply> StatusAsync(Uri master, bool includeStateHash = false, CancellationToken cancellationToken = default)
        => rpc.CallAsync<StatusRequest, StatusReply>(master, MasterRoutes.Status, new StatusRequest { IncludeStateHash = includeStateHash }, Options.AttemptTimeout, cancellationToken);

    /// <summary>Reads <paramref name="path"/> from one specific master's local state, without a read barrier (diagnostics only: may be stale).</summary>
    public Task<EntryAttributes> StatLocalAsync(Uri master, string path, CancellationToken cancellationToken = default)
        => rpc.CallAsync<PathRequest, EntryAttributes>(master, MasterRoutes.Stat, PathRequest.Of(path, local: true), Options.AttemptTimeout, cancellationToken);

    /// <summary>Lists a directory from one specific master's local state, without a read barrier (diagnostics only: may be stale).</summary>
    public Task<ListReply> ListLocalAsync(Uri master, string path, string? startAfter = null, int limit = 0, CancellationToken cancellationToken = default)
        => rpc.CallAsync<PathRequest, ListReply>(master, MasterRoutes.List, PathRequest.Of(path, startAfter, limit, local: true), Options.AttemptTimeout, cancellationToken);

    /// <summary>
    /// Calls <paramref name="route"/> on the leader: follows NotLeader redirects, and on an
    /// unreachable master, a timeout or an unknown outcome tries the next master after a backoff.
    /// The same <paramref name="request"/> (and so the same exactly-once identity) is resent.
    /// </summary>
    public Task<TResponse> CallLeaderAsync<TRequest, TResponse>(string route, TRequest request, CancellationToken cancellationToken = default)
        => CallLeaderAsync<TRequest, TResponse>(route, request, Options.AttemptTimeout, cancellationToken);

    /// <summary>
    /// <see cref="CallLeaderAsync{TRequest, TResponse}(string, TRequest, CancellationToken)"/> with its own
    /// bound on one attempt, for calls the leader may legitimately hold longer (a lease that waits
    /// for an older one to expire).
    /// </summary>
    public async Task<TResponse> CallLeaderAsync<TRequest, TResponse>(string route, TRequest request, TimeSpan attemptTimeout, CancellationToken cancellationToken = default)
    {
        using var overall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        overall.CancelAfter(Options.OperationTimeout);
        var delay = Options.InitialRetryDelay;
        GfsException? last = null;
        while (true)
        {
            var target = Leader ?? masters[(int)((uint)Interlocked.Increment(ref nextMaster) % masters.Count)];
            try
            {
                return await rpc.CallAsync<TRequest, TResponse>(target, route, request, attemptTimeout, overall.Token).ConfigureAwait(false);
            }
            catch (GfsException e) when (e.Code == ErrorCode.NotLeader)
            {
                last = e;
                var hinted = e.LeaderUrl is { } url && Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri != target ? uri : null;
                Interlocked.Exchange(ref leader, hinted);
                if (hinted is not null)
                {
                    continue; // a fresh hint: follow it at once
                }
            }
            catch (GfsException e) when (e.Code is ErrorCode.Unavailable or ErrorCode.DeadlineExceeded)
            {
                last = e;
                Interlocked.CompareExchange(ref leader, null, target);
            }
            catch (OperationCanceledException) when (overall.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw GaveUp(route, last);
            }

            try
            {
                await Task.Delay(Jitter(delay), overall.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw GaveUp(route, last);
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, Options.MaxRetryDelay.Ticks));
        }
    }

    /// <summary>
    /// The error after <see cref="GfsClientOptions.OperationTimeout"/>: redirects and timeouts become
    /// Unavailable (a NotLeader from the last attempt says nothing about the operation); a definite
    /// answer from a master keeps its code.
    /// </summary>
    private GfsException GaveUp(string route, GfsException? last)
    {
        var message = $"{route}: no leader answered within {Options.OperationTimeout.TotalSeconds:0.#} s";
        return last is null
            ? new GfsException(ErrorCode.Unavailable, message)
            : new GfsException(last.Code is ErrorCode.NotLeader or ErrorCode.DeadlineExceeded ? ErrorCode.Unavailable : last.Code, $"{message}; last error: {last.Message}", last);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (ownsRpc)
        {
            rpc.Dispose();
        }
    }

    private static TimeSpan Jitter(TimeSpan delay) => TimeSpan.FromTicks((long)(delay.Ticks * (0.5 + Random.Shared.NextDouble())));

    private static string RouteOf(NamespaceOpKind kind) => kind switch
    {
        NamespaceOpKind.Mkdir => MasterRoutes.Mkdir,
        NamespaceOpKind.CreateFile => MasterRoutes.CreateFile,
        NamespaceOpKind.Delete => MasterRoutes.Delete,
        NamespaceOpKind.Rename => MasterRoutes.Rename,
        NamespaceOpKind.SetReplication => MasterRoutes.SetReplication,
        NamespaceOpKind.SetLength => MasterRoutes.SetLength,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown namespace operation"),
    };

    /// <summary>Issues the next request id once it lies within <see cref="MutationHeader.Window"/> of the oldest one still in flight.</summary>
    private async Task<long> AcquireRequestIdAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task moved;
            lock (completedAbove)
            {
                if (issued + 1 <= completedBelow + MutationHeader.Window)
                {
                    return ++issued;
                }

                moved = (windowMoved ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            await moved.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Marks a request finished for good (acknowledged, refused or given up: it is never sent again).</summary>
    private void Complete(long requestId)
    {
        TaskCompletionSource? moved;
        lock (completedAbove)
        {
            completedAbove.Add(requestId);
            while (completedAbove.Remove(completedBelow + 1))
            {
                completedBelow++;
            }

            moved = windowMoved;
            windowMoved = null;
        }

        moved?.TrySetResult();
    }
}
