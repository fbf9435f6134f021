using System.Collections.Concurrent;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Consensus;
using Gfs.Master.Cluster;
using Gfs.Master.Commands;
using Gfs.Master.State;
using Gfs.Master.Tests.State;

namespace Gfs.Master.Tests.Cluster;

/// <summary>A master log that applies commands to one in-memory state at once (unit tests only).</summary>
internal sealed class FakeMasterLog : IMasterLog
{
    private long handle = 100;

    public MasterState State { get; } = new();

    public bool IsLeader { get; set; } = true;

    public long Term { get; set; } = 1;

    public int Bumps { get; private set; }

    public Task ReadBarrierAsync(CancellationToken cancellationToken)
        => IsLeader ? Task.CompletedTask : throw new NotLeaderException(null, outcomeUnknown: false);

    public T Read<T>(Func<MasterState, T> read)
    {
        lock (State)
        {
            return read(State);
        }
    }

    public async Task<CommandResult> ExecuteAsync(MasterOp op, CancellationToken cancellationToken)
    {
        await Task.Yield();
        if (!IsLeader)
        {
            throw new NotLeaderException(null, outcomeUnknown: false);
        }

        lock (State)
        {
            if (op is BumpChunkVersionOp)
            {
                Bumps++;
            }

            return State.Run(op);
        }
    }

    public async Task<CommandResult> ExecuteAsync(long clientId, long requestId, MasterOp op, CancellationToken cancellationToken)
    {
        await Task.Yield();
        if (!IsLeader)
        {
            throw new NotLeaderException(null, outcomeUnknown: false);
        }

        lock (State)
        {
            return State.Apply(new MasterCommand { ClientId = clientId, RequestId = requestId, Op = op });
        }
    }

    public long NewChunkHandle() => Math.Max(Interlocked.Increment(ref handle), State.NextChunkHandle);

    public long Version(long chunk) => Read(s => s.TryGetChunk(chunk, out var c) ? c.Version : 0);
}

/// <summary>
/// Chunkservers as the leader's grants see them: records every Grant and each server's replica
/// versions (refusing a grant below the version held, as a real chunkserver does, and answering the
/// version held before); servers can be made to fail.
/// </summary>
internal sealed class FakeChannel : IChunkserverChannel
{
    public ConcurrentQueue<(string Server, GrantRequest Request)> Grants { get; } = new();

    /// <summary>The version each server holds of each chunk (absent: it does not hold it).</summary>
    public ConcurrentDictionary<(string Server, long Handle), long> Held { get; } = new();

    public ConcurrentDictionary<string, bool> Failing { get; } = new();

    /// <summary>When set, grants wait for it (to hold a decision in flight).</summary>
    public TaskCompletionSource? Gate { get; set; }

    public async Task<GrantReply> GrantAsync(ReplicaLocation server, GrantRequest request, CancellationToken cancellationToken)
    {
        if (Gate is { } gate)
        {
            await gate.Task;
        }

        await Task.Yield();
        if (Failing.ContainsKey(server.ServerId))
        {
            throw new GfsException(ErrorCode.Unavailable, $"{server.ServerId} is down");
        }

        var key = (server.ServerId, request.Handle);
        var previous = Held.GetValueOrDefault(key);
        if (previous == 0 && !request.Create)
        {
            throw new GfsException(ErrorCode.NotFound, $"{server.ServerId} does not hold chunk {request.Handle}");
        }

        if (previous > request.Version)
        {
            throw new GfsException(ErrorCode.StaleVersion, $"{server.ServerId} holds chunk {request.Handle} at {previous}, above {request.Version}");
        }

        Held[key] = request.Version;
        Grants.Enqueue((server.ServerId, request));
        return new GrantReply { Length = 0, PreviousVersion = previous };
    }

    public List<GrantRequest> For(long handle) => Grants.Where(g => g.Request.Handle == handle).Select(g => g.Request).ToList();
}

internal static class Heartbeats
{
    public static HeartbeatRequest Of(string id, string rack = "", long free = 100L << 30, long capacity = 200L << 30, bool full = true, long started = 1, int active = 0, params ReportedChunk[] chunks) => new()
    {
        ServerId = id,
        Url = $"http://{id}.test:7001/",
        Rack = rack,
        FreeBytes = free,
        CapacityBytes = capacity,
        FullReport = full,
        StartedUnixMs = started,
        ActiveRequests = active,
        Chunks = full ? [.. chunks] : [],
        Changed = full ? [] : [.. chunks],
    };

    public static ReportedChunk Chunk(long handle, long version, long length = 0) => new() { Handle = handle, Version = version, Length = length };
}
