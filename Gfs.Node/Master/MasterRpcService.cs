using System.Reflection;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Master;
using Gfs.Consensus;
using Gfs.Master.Cluster;
using Gfs.Master.Commands;
using Gfs.Master.Paths;
using Gfs.Master.Replication;
using Gfs.Master.State;
using Gfs.Node.Rpc;
using Microsoft.AspNetCore.Routing;

namespace Gfs.Node.Master;

/// <summary>
/// The master's client RPCs. Mutations go through the Raft log with their exactly-once identity;
/// reads wait for a read barrier on the leader. A follower answers NotLeader with the leader's
/// client URL. Requests run concurrently; DotNext batches concurrent proposals.
/// </summary>
internal sealed class MasterRpcService(MasterReplica replica, ChunkserverRegistry registry)
{
    /// <summary>Page size of a listing when the caller gives none.</summary>
    public const int DefaultListLimit = 1000;

    /// <summary>Largest page of a listing.</summary>
    public const int MaxListLimit = 10_000;

    /// <summary>Most operations in one batch.</summary>
    public const int MaxBatchOps = 10_000;

    private static readonly string Version = typeof(MasterRpcService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    public void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapRpc<MutationRequest, MutationReply>(MasterRoutes.Mkdir, (r, c) => MutateAsync(r, NamespaceOpKind.Mkdir, c));
        endpoints.MapRpc<MutationRequest, MutationReply>(MasterRoutes.CreateFile, (r, c) => MutateAsync(r, NamespaceOpKind.CreateFile, c));
        endpoints.MapRpc<MutationRequest, MutationReply>(MasterRoutes.Delete, (r, c) => MutateAsync(r, NamespaceOpKind.Delete, c));
        endpoints.MapRpc<MutationRequest, MutationReply>(MasterRoutes.Rename, (r, c) => MutateAsync(r, NamespaceOpKind.Rename, c));
        endpoints.MapRpc<MutationRequest, MutationReply>(MasterRoutes.SetReplication, (r, c) => MutateAsync(r, NamespaceOpKind.SetReplication, c));
        endpoints.MapRpc<MutationRequest, MutationReply>(MasterRoutes.SetLength, (r, c) => MutateAsync(r, NamespaceOpKind.SetLength, c));
        endpoints.MapRpc<BatchRequest, BatchReply>(MasterRoutes.Batch, BatchAsync);
        endpoints.MapRpc<PathRequest, EntryAttributes>(MasterRoutes.Stat, StatAsync);
        endpoints.MapRpc<PathRequest, ListReply>(MasterRoutes.List, ListAsync);
        endpoints.MapRpc<StatusRequest, StatusReply>(MasterRoutes.Status, StatusAsync);
    }

    private async ValueTask<MutationReply> MutateAsync(MutationRequest request, NamespaceOpKind route, RpcContext context)
    {
        if (request.Op.Kind != route)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"{context.Route} carries a {request.Op.Kind} operation");
        }

        var op = ToMasterOp(request.Op);
        var result = await ExecuteAsync(request.Header, op, context).ConfigureAwait(false);
        if (result.Code != ErrorCode.Ok)
        {
            throw new GfsException(result.Code, result.Message ?? result.Code.ToString());
        }

        return new MutationReply { Id = result.Value, Replayed = result.Replayed };
    }

    private async ValueTask<BatchReply> BatchAsync(BatchRequest request, RpcContext context)
    {
        if (request.Ops.Count is 0 or > MaxBatchOps)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"a batch holds 1 to {MaxBatchOps} operations, not {request.Ops.Count}");
        }

        // An invalid operation fails alone, inside the batch, like any other per-operation error.
        var ops = request.Ops.Select(o => TryToMasterOp(o, out var op, out _) ? op : new NoopOp()).ToArray();
        var result = await ExecuteAsync(request.Header, new BatchOp { Ops = ops }, context).ConfigureAwait(false);
        if (result.Code != ErrorCode.Ok || result.Batch is null)
        {
            throw new GfsException(result.Code == ErrorCode.Ok ? ErrorCode.Internal : result.Code, result.Message ?? "the batch produced no results");
        }

        var results = new List<OpResult>(request.Ops.Count);
        for (var i = 0; i < request.Ops.Count; i++)
        {
            results.Add(TryToMasterOp(request.Ops[i], out _, out var invalid)
                ? new OpResult { Code = result.Batch[i].Code, Message = result.Batch[i].Message, Id = result.Batch[i].Value }
                : new OpResult { Code = invalid!.Code, Message = invalid.Message });
        }

        return new BatchReply { Results = results, Replayed = result.Replayed };
    }

    private async ValueTask<EntryAttributes> StatAsync(PathRequest request, RpcContext context)
    {
        ValidatePath(request.Path);
        var (code, info) = await ReadAsync(request.Local, s => (s.Stat(request.Path, out var i), i), context).ConfigureAwait(false);
        return code == ErrorCode.Ok ? ToAttributes(info) : throw new GfsException(code, $"{Display(request.Path)}: {code}");
    }

    private async ValueTask<ListReply> ListAsync(PathRequest request, RpcContext context)
    {
        ValidatePath(request.Path);
        var limit = request.Limit <= 0 ? DefaultListLimit : Math.Min(request.Limit, MaxListLimit);
        var startAfter = request.StartAfter is null ? default : System.Text.Encoding.UTF8.GetBytes(request.StartAfter);
        var (code, entries) = await ReadAsync(request.Local, s => (s.List(request.Path, out var e, startAfter, limit + 1), e), context).ConfigureAwait(false);
        if (code != ErrorCode.Ok)
        {
            throw new GfsException(code, $"{Display(request.Path)}: {code}");
        }

        var more = entries.Count > limit;
        return new ListReply { Entries = entries.Take(limit).Select(ToAttributes).ToList(), More = more };
    }

    private async ValueTask<StatusReply> StatusAsync(StatusRequest request, RpcContext context)
    {
        var raft = replica.Raft;
        var leaderUrl = raft.Leader?.ClientUrl ?? await raft.GetLeaderClientUrlAsync(context.CancellationToken).ConfigureAwait(false);
        var (files, directories, chunks, hash) = replica.Master.Read(s => (s.FileCount, s.DirectoryCount, s.ChunkCount, request.IncludeStateHash ? s.ComputeStateHash() : 0UL));
        return new StatusReply
        {
            MemberId = raft.MemberId,
            IsLeader = raft.IsLeader,
            Term = raft.Term,
            LeaderUrl = leaderUrl?.ToString(),
            AppliedIndex = replica.Master.AppliedIndex,
            StateHash = hash,
            Files = files,
            Directories = directories,
            Chunks = chunks,
            Version = Version,
            Chunkservers = registry.Status(),
        };
    }

    private async Task<CommandResult> ExecuteAsync(MutationHeader header, MasterOp op, RpcContext context)
    {
        if (header.ClientId == 0)
        {
            throw new GfsException(ErrorCode.InvalidArgument, "a mutation needs a non-zero client id");
        }

        try
        {
            return await replica.ExecuteAsync(header.ClientId, header.RequestId, op, context.CancellationToken).ConfigureAwait(false);
        }
        catch (NotLeaderException e)
        {
            throw await NotLeaderAsync(replica, e, context).ConfigureAwait(false);
        }
    }

    private async Task<T> ReadAsync<T>(bool local, Func<MasterState, T> read, RpcContext context)
    {
        if (local)
        {
            return replica.Master.Read(read);
        }

        try
        {
            return await replica.ReadAsync(read, context.CancellationToken).ConfigureAwait(false);
        }
        catch (NotLeaderException e)
        {
            throw await NotLeaderAsync(replica, e, context).ConfigureAwait(false);
        }
    }

    /// <summary>NotLeader with the leader's client URL when known; the client retries there with the same request id.</summary>
    internal static async Task<GfsException> NotLeaderAsync(MasterReplica replica, NotLeaderException e, RpcContext context)
    {
        var url = e.Leader is { IsLocal: false } leader
            ? leader.ClientUrl ?? await replica.Raft.GetLeaderClientUrlAsync(context.CancellationToken).ConfigureAwait(false)
            : null;
        var message = e.OutcomeUnknown
            ? "leadership changed while the request was in flight; retry with the same request id"
            : url is null ? "this master is not the leader and no leader is known yet" : $"this master is not the leader; the leader is {url}";
        return new GfsException(ErrorCode.NotLeader, message, url?.ToString());
    }

    internal static MasterOp ToMasterOp(NamespaceOp op)
        => TryToMasterOp(op, out var masterOp, out var invalid) ? masterOp : throw invalid!;

    private static bool TryToMasterOp(NamespaceOp op, out MasterOp masterOp, out GfsException? invalid)
    {
        masterOp = null!;
        invalid = Check(op.Path) ?? (op.Kind == NamespaceOpKind.Rename ? Check(op.Target ?? []) : null);
        if (invalid is not null)
        {
            return false;
        }

        switch (op.Kind)
        {
            case NamespaceOpKind.Mkdir:
                masterOp = new MakeDirectoryOp { Path = op.Path, Parents = op.Flag };
                return true;
            case NamespaceOpKind.CreateFile:
                masterOp = new CreateFileOp { Path = op.Path, Goal = op.Goal == 0 ? MasterLimits.DefaultGoal : op.Goal, ChunkSize = op.ChunkSize };
                return true;
            case NamespaceOpKind.Delete:
                masterOp = new DeleteOp { Path = op.Path, Recursive = op.Flag };
                return true;
            case NamespaceOpKind.Rename:
                masterOp = new RenameOp { From = op.Path, To = op.Target! };
                return true;
            case NamespaceOpKind.SetReplication:
                masterOp = new SetReplicationOp { Path = op.Path, Goal = op.Goal };
                return true;
            case NamespaceOpKind.SetLength:
                masterOp = new SetLengthOp { Path = op.Path, Size = op.Size, FileId = op.FileId };
                return true;
            default:
                invalid = new GfsException(ErrorCode.InvalidArgument, $"unknown namespace operation {(int)op.Kind}");
                return false;
        }
    }

    private static GfsException? Check(byte[] path)
        => PathValidator.Validate(path, out var reason) == ErrorCode.Ok ? null : new GfsException(ErrorCode.InvalidArgument, $"{Display(path)}: {reason}");

    private static void ValidatePath(byte[] path)
    {
        if (Check(path) is { } invalid)
        {
            throw invalid;
        }
    }

    /// <summary>A path for messages: invalid UTF-8 and control characters made visible, long paths cut.</summary>
    private static string Display(byte[] path)
    {
        var text = System.Text.Encoding.UTF8.GetString(path, 0, Math.Min(path.Length, 200));
        var visible = new string(text.Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return path.Length > 200 ? $"'{visible}…'" : $"'{visible}'";
    }

    private static EntryAttributes ToAttributes(EntryInfo info) => new()
    {
        Name = info.Name,
        Id = info.Id,
        Kind = info.Kind == InodeKind.Directory ? EntryKind.Directory : EntryKind.File,
        Size = info.Size,
        ModifiedUnixMs = info.MTime,
        Goal = info.Goal,
        ChunkSize = info.ChunkSize,
        Count = info.Count,
    };
}
