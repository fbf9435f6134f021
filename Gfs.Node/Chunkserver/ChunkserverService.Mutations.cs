using System.IO.Hashing;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Node.Rpc;
using Gfs.Storage;

namespace Gfs.Node.Chunkserver;

internal sealed partial class ChunkserverService
{
    private static readonly byte[] Zeros = new byte[1024 * 1024];

    private async ValueTask<WriteReply> WriteAsync(WriteRequest request, RpcContext context)
    {
        var state = await LockAsPrimaryAsync(request.Handle, request.Version, context.CancellationToken).ConfigureAwait(false);
        try
        {
            var info = CheckPrimary(state, request.Version);
            var chunkSize = ChunkSizeOf(state);
            if (request.Offset < 0 || request.Offset > info.Length || request.Length < 0 || request.Offset + request.Length > chunkSize)
            {
                throw new GfsException(ErrorCode.InvalidArgument, $"write of {request.Length} bytes at {request.Offset}: chunk {request.Handle:x16} holds {info.Length} of at most {chunkSize} bytes (no holes)");
            }

            using var data = TakeData(request.DataId, request.Length, request.Data, request.Crc32C);
            var apply = new ApplyRequest
            {
                Handle = request.Handle,
                Version = request.Version,
                Kind = MutationKind.Write,
                Offset = request.Offset,
                DataId = request.DataId,
                Length = request.Length,
                Serial = ++state.LastSerial,
                Data = request.Data,
                Crc32C = request.Crc32C,
            };
            var failed = await ApplyAndForwardAsync(state, apply, () => WriteDataAsync(request.Handle, request.Offset, data.Bytes, request.Version)).ConfigureAwait(false);
            data.Consumed();
            return new WriteReply { ChunkLength = store.GetChunk(request.Handle)?.Length ?? 0, FailedReplicas = failed };
        }
        finally
        {
            state.Serial.Release();
        }
    }

    private async ValueTask<AppendReply> AppendAsync(AppendRequest request, RpcContext context)
    {
        var state = await LockAsPrimaryAsync(request.Handle, request.Version, context.CancellationToken).ConfigureAwait(false);
        try
        {
            var info = CheckPrimary(state, request.Version);
            var chunkSize = ChunkSizeOf(state);
            if (request.Length <= 0 || request.Length > chunkSize / 4)
            {
                throw new GfsException(ErrorCode.InvalidArgument, $"a record of {request.Length} bytes must be between 1 and a quarter of the chunk size ({chunkSize / 4})");
            }

            var apply = new ApplyRequest
            {
                Handle = request.Handle,
                Version = request.Version,
                Kind = MutationKind.Append,
                DataId = request.DataId,
                Length = request.Length,
                ClientId = request.ClientId,
                Sequence = request.Sequence,
                Data = request.Data,
                Crc32C = request.Crc32C,
            };

            if (store.FindAppend(request.Handle, request.ClientId, request.Sequence) is { } seen)
            {
                // A retry: the record is here already (also from before a restart); make sure the secondaries have it too.
                apply.Offset = seen;
                apply.Serial = ++state.LastSerial;
                var again = await ForwardAsync(state, apply).ConfigureAwait(false);
                return new AppendReply { Offset = seen, Replayed = true, ChunkLength = store.GetChunk(request.Handle)?.Length ?? 0, FailedReplicas = again };
            }

            if (info.Length + request.Length > chunkSize)
            {
                var padding = chunkSize - info.Length;
                var pad = new ApplyRequest
                {
                    Handle = request.Handle,
                    Version = request.Version,
                    Kind = MutationKind.Pad,
                    Offset = info.Length,
                    Length = padding,
                    Serial = ++state.LastSerial,
                };
                var padFailed = await ApplyAndForwardAsync(state, pad, () => PadAsync(request.Handle, info.Length, padding, request.Version)).ConfigureAwait(false);
                return new AppendReply { Offset = -1, Padded = true, ChunkLength = chunkSize, FailedReplicas = padFailed };
            }

            using var data = TakeData(request.DataId, request.Length, request.Data, request.Crc32C);
            var offset = info.Length;
            apply.Offset = offset;
            apply.Serial = ++state.LastSerial;
            var identity = new AppendId(request.ClientId, request.Sequence);
            var failed = await ApplyAndForwardAsync(state, apply, () => WriteDataAsync(request.Handle, offset, data.Bytes, request.Version, identity)).ConfigureAwait(false);
            data.Consumed();
            return new AppendReply { Offset = offset, ChunkLength = offset + request.Length, FailedReplicas = failed };
        }
        finally
        {
            state.Serial.Release();
        }
    }

    private async ValueTask<ApplyReply> ApplyAsync(ApplyRequest request, RpcContext context)
    {
        var state = await Chunks.LockAsync(request.Handle, context.CancellationToken).ConfigureAwait(false);
        try
        {
            var info = Existing(request.Handle);
            if (info.Version != request.Version)
            {
                throw new GfsException(ErrorCode.StaleVersion, $"chunk {request.Handle:x16} is at version {info.Version}; the primary applies version {request.Version}");
            }

            var chunkSize = ChunkSizeOf(state);
            if (request.Offset < 0 || request.Length < 0 || request.Offset + request.Length > chunkSize)
            {
                throw new GfsException(ErrorCode.InvalidArgument, $"apply of {request.Length} bytes at {request.Offset} passes the chunk size {chunkSize}");
            }

            switch (request.Kind)
            {
                case MutationKind.Write:
                    if (request.Offset > info.Length)
                    {
                        throw new GfsException(ErrorCode.Conflict, $"write at {request.Offset} of chunk {request.Handle:x16}, which holds {info.Length} bytes: a mutation is missing");
                    }

                    await ApplyDataAsync(request, identity: null).ConfigureAwait(false);
                    break;
                case MutationKind.Append:
                    if (store.FindAppend(request.Handle, request.ClientId, request.Sequence) is { } seen)
                    {
                        if (seen != request.Offset)
                        {
                            throw new GfsException(ErrorCode.Conflict, $"record ({request.ClientId}, {request.Sequence}) is at {seen} here, not at {request.Offset}");
                        }

                        break;
                    }

                    if (info.Length != request.Offset)
                    {
                        throw new GfsException(ErrorCode.Conflict, $"append at {request.Offset} of chunk {request.Handle:x16}, which holds {info.Length} bytes");
                    }

                    await ApplyDataAsync(request, new AppendId(request.ClientId, request.Sequence)).ConfigureAwait(false);
                    break;
                case MutationKind.Pad:
                    if (info.Length == request.Offset)
                    {
                        await PadAsync(request.Handle, request.Offset, request.Length, request.Version).ConfigureAwait(false);
                        Chunks.MarkChanged(request.Handle);
                    }
                    else if (info.Length != request.Offset + request.Length)
                    {
                        throw new GfsException(ErrorCode.Conflict, $"padding from {request.Offset} of chunk {request.Handle:x16}, which holds {info.Length} bytes");
                    }

                    break;
                default:
                    throw new GfsException(ErrorCode.InvalidArgument, $"unknown mutation kind {request.Kind}");
            }

            return new ApplyReply { ChunkLength = store.GetChunk(request.Handle)?.Length ?? 0 };
        }
        finally
        {
            state.Serial.Release();
        }
    }

    /// <summary>Applies a Write, or with <paramref name="identity"/> an Append (the store keeps the identity with the bytes).</summary>
    private async Task ApplyDataAsync(ApplyRequest request, AppendId? identity)
    {
        using var data = TakeData(request.DataId, request.Length, request.Data, request.Crc32C);
        await WriteDataAsync(request.Handle, request.Offset, data.Bytes, request.Version, identity).ConfigureAwait(false);
        Chunks.MarkChanged(request.Handle);
        data.Consumed();
    }

    /// <summary>
    /// Takes the chunk's serial lock after a first lease and version check; Busy at once when
    /// <see cref="ChunkserverOptions.MaxWaitingMutations"/> mutations wait for it already (each may pin
    /// its inline and pushed data meanwhile). The caller checks the lease and version again under the
    /// lock (a grant or the lease's end may have come first) and releases the lock exactly once.
    /// </summary>
    private async Task<ReplicaState> LockAsPrimaryAsync(long handle, long version, CancellationToken cancellationToken)
    {
        CheckPrimary(Chunks.Get(handle), version);
        return await Chunks.TryLockAsync(handle, options.MaxWaitingMutations, cancellationToken).ConfigureAwait(false)
            ?? throw new GfsException(ErrorCode.Busy, $"chunk {handle:x16} has {options.MaxWaitingMutations} mutations waiting already: retry after a pause");
    }

    /// <summary>The chunk exists, this server holds a live lease for its version (monotonic clock), and the caller names that version.</summary>
    private ChunkInfo CheckPrimary(ReplicaState state, long version)
    {
        var info = Existing(state.Handle);
        var lease = state.LiveLease(time.GetTimestamp());
        if (lease == 0 || lease != info.Version)
        {
            throw new GfsException(ErrorCode.LeaseExpired, $"this server holds no live lease on chunk {state.Handle:x16}");
        }

        if (version != info.Version)
        {
            throw new GfsException(ErrorCode.StaleVersion, $"chunk {state.Handle:x16} is at version {info.Version}, the request names {version}");
        }

        return info;
    }

    private long ChunkSizeOf(ReplicaState state) => state.ChunkSize > 0 ? state.ChunkSize : storeChunkSize;

    /// <summary>
    /// The bytes a mutation names: inline in the request when <paramref name="dataId"/> is empty
    /// (checked for size and CRC32C before anything is applied), otherwise pushed ahead into the buffer.
    /// </summary>
    private MutationBytes TakeData(string dataId, long length, ReadOnlyMemory<byte> inline, uint crc32C)
    {
        if (dataId.Length > 0)
        {
            return new MutationBytes(Buffer, AcquireData(dataId, length));
        }

        if (inline.Length > ChunkRoutes.MaxInlineBytes)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"{inline.Length} inline bytes: at most {ChunkRoutes.MaxInlineBytes} travel inline; push larger data first");
        }

        if (inline.Length != length)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"the request says {length} bytes but carries {inline.Length} inline (and names no pushed data)");
        }

        var actual = Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, inline.Span);
        if (actual != crc32C)
        {
            throw new GfsException(ErrorCode.ChecksumMismatch, $"inline data: CRC32C {actual:x8}, the sender said {crc32C:x8}");
        }

        return new MutationBytes(inline);
    }

    /// <summary>A mutation's bytes: a held push-buffer entry (released on dispose, dropped once applied) or inline bytes.</summary>
    private sealed class MutationBytes : IDisposable
    {
        private readonly PushBuffer? buffer;
        private readonly PushEntry? entry;

        public MutationBytes(PushBuffer buffer, PushEntry entry)
        {
            this.buffer = buffer;
            this.entry = entry;
            Bytes = entry.Data;
        }

        public MutationBytes(ReadOnlyMemory<byte> inline) => Bytes = inline;

        public ReadOnlyMemory<byte> Bytes { get; }

        /// <summary>The mutation is applied here: pushed data is no longer needed in the buffer.</summary>
        public void Consumed()
        {
            if (entry is not null)
            {
                buffer!.Remove(entry);
            }
        }

        public void Dispose() => entry?.Release();
    }

    private PushEntry AcquireData(string dataId, long length)
    {
        var data = Buffer.Acquire(dataId) ?? throw new GfsException(ErrorCode.NotFound, $"no pushed data {dataId} here (expired or never pushed): push it again");
        if (data.Length != length)
        {
            data.Release();
            throw new GfsException(ErrorCode.NotFound, $"pushed data {dataId} holds {data.Length} bytes, not {length}: push it again");
        }

        return data;
    }

    /// <summary>
    /// Writes the bytes; not cancellable half-way (replicas must not diverge by a cancelled caller). With
    /// <paramref name="identity"/> (a record append, at the chunk's end) the store remembers it in the same commit.
    /// </summary>
    private async Task WriteDataAsync(long handle, long offset, ReadOnlyMemory<byte> data, long version, AppendId? identity = null)
        => await StoreErrors.Run(() => identity is { } id
            ? store.WriteAsync(handle, offset, data, version, id, CancellationToken.None)
            : store.WriteAsync(handle, offset, data, version, CancellationToken.None)).ConfigureAwait(false);

    private async Task PadAsync(long handle, long offset, long length, long version)
    {
        var at = offset;
        var end = offset + length;
        while (at < end)
        {
            var n = (int)Math.Min(Zeros.Length, end - at);
            var zeros = Zeros.AsMemory(0, n);
            await StoreErrors.Run(() => store.WriteAsync(handle, at, zeros, version, CancellationToken.None)).ConfigureAwait(false);
            at += n;
        }
    }

    /// <summary>
    /// Applies a mutation locally while it is forwarded to the secondaries (both under the chunk's
    /// serial lock, so the order is kept): the mutation costs one apply of latency, not two. A local
    /// failure fails the call (the client retries; an append retry finds the record on the
    /// secondaries at the same offset); failed secondaries are returned.
    /// </summary>
    private async Task<List<string>> ApplyAndForwardAsync(ReplicaState state, ApplyRequest apply, Func<Task> local)
    {
        var forward = ForwardAsync(state, apply);
        try
        {
            await local().ConfigureAwait(false);
        }
        finally
        {
            state.Mutated(time.GetTimestamp());
            Chunks.MarkChanged(apply.Handle);
            await forward.ConfigureAwait(false);
        }

        return await forward.ConfigureAwait(false);
    }

    /// <summary>
    /// Sends the mutation to every secondary in parallel and returns the ids of those that did not
    /// apply it. A secondary that missed one mutation is reported on every later one until the next
    /// grant, so the client drops it (a new version) instead of reading diverged bytes from it.
    /// </summary>
    private async Task<List<string>> ForwardAsync(ReplicaState state, ApplyRequest apply)
    {
        var secondaries = state.Replicas.Where(r => r.ServerId != ServerId).ToList();
        var failed = new List<string>();
        var calls = new List<(ReplicaLocation Replica, Task Call)>();
        foreach (var replica in secondaries)
        {
            if (state.FailedSecondaries.Contains(replica.ServerId))
            {
                failed.Add(replica.ServerId);
                continue;
            }

            calls.Add((replica, Uri.TryCreate(replica.Url, UriKind.Absolute, out var url)
                ? rpc.CallAsync<ApplyRequest, ApplyReply>(url, ChunkRoutes.Apply, apply, options.PeerCallTimeout, CancellationToken.None)
                : Task.FromException(new GfsException(ErrorCode.Unavailable, $"secondary {replica.ServerId} has no valid URL"))));
        }

        foreach (var (replica, call) in calls)
        {
            try
            {
                await call.ConfigureAwait(false);
            }
            catch (Exception e)
            {
                var code = e is GfsException g ? g.Code : ErrorCode.Internal;
                ChunkserverLog.ApplyFailed(logger, apply.Handle, apply.Serial, replica.ServerId, code, e.Message);
                state.FailedSecondaries.Add(replica.ServerId);
                failed.Add(replica.ServerId);
            }
        }

        return failed;
    }
}
