using System.Buffers;
using Gfs.Client.Protocol;
using Gfs.Master.Commands;
using MessagePack;

namespace Gfs.Master.State;

public sealed partial class MasterState
{
    /// <summary>Serialises a command into its log-entry bytes.</summary>
    public static byte[] Encode(MasterCommand command) => MessagePackSerializer.Serialize(command, WireFormat.Options);

    /// <summary>Reads log-entry bytes; throws when they are malformed.</summary>
    public static MasterCommand Decode(ReadOnlySequence<byte> bytes) => MessagePackSerializer.Deserialize<MasterCommand>(bytes, WireFormat.Options);

    /// <summary>Applies log-entry bytes. Malformed bytes give <see cref="ErrorCode.InvalidArgument"/> and change nothing but the apply counter.</summary>
    public CommandResult Apply(ReadOnlySequence<byte> bytes)
    {
        MasterCommand command;
        try
        {
            command = Decode(bytes);
        }
        catch (Exception)
        {
            AppliedCommands++;
            return CommandResult.Error(ErrorCode.InvalidArgument, "malformed command");
        }

        return Apply(command);
    }

    /// <summary>Applies one command. Never throws: a fault inside is recorded as <see cref="ErrorCode.Internal"/>.</summary>
    public CommandResult Apply(MasterCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        AppliedCommands++;
        try
        {
            if (command.Op is null)
            {
                return CommandResult.Error(ErrorCode.InvalidArgument, "command has no operation");
            }

            if (command.Op is GroupOp group)
            {
                return command.ClientId == 0
                    ? ApplyGroup(group)
                    : CommandResult.Error(ErrorCode.InvalidArgument, "only the leader may group commands");
            }

            ClientSession? session = null;
            if (command.ClientId != 0)
            {
                if (command.RequestId <= 0)
                {
                    return CommandResult.Error(ErrorCode.InvalidArgument, "request id must be positive");
                }

                session = GetSession(command.ClientId);
                var at = session.Find(command.RequestId);
                if (at >= 0)
                {
                    return session.Results[at].AsReplay();
                }

                if (command.RequestId <= session.Floor)
                {
                    return CommandResult.Error(ErrorCode.Conflict, "request id is older than the results kept for this client");
                }
            }

            var result = ApplyOp(command.Op, command.Timestamp, nested: false);
            session?.Record(command.RequestId, result);
            return result;
        }
        catch (Exception e)
        {
            return CommandResult.Error(ErrorCode.Internal, $"internal error applying command: {e.GetType().Name}");
        }
    }

    private CommandResult ApplyOp(MasterOp op, long time, bool nested) => op switch
    {
        MakeDirectoryOp o => MakeDirectory(o.Path, o.Parents, time),
        CreateFileOp o => CreateFileWithChunk(o, time),
        RenameOp o => Rename(o.From, o.To, time),
        DeleteOp o => Delete(o.Path, o.Recursive, time),
        SetReplicationOp o => SetReplication(o.Path, o.Goal),
        SetLengthOp o => SetLength(o.Path, o.Size, o.FileId, time),
        AllocateChunkOp o => AllocateChunk(o.Path, o.ChunkIndex, o.Handle, o.Replicas, o.FileId, time),
        BumpChunkVersionOp o => BumpChunkVersion(o),
        BatchOp o when !nested => ApplyBatch(o, time),
        BatchOp => CommandResult.Error(ErrorCode.InvalidArgument, "a batch cannot contain a batch"),
        NoopOp => CommandResult.Ok,
        _ => CommandResult.Error(ErrorCode.InvalidArgument, $"unknown operation {op.GetType().Name}"),
    };

    /// <summary>Creates the file and, when the op names one, allocates its first chunk: both or (on a create error) neither.</summary>
    private CommandResult CreateFileWithChunk(CreateFileOp op, long time)
    {
        var created = CreateFile(op.Path, op.Goal, op.ChunkSize, time);
        if (created.Code != ErrorCode.Ok || op.FirstChunk == 0)
        {
            return created;
        }

        // The file is new and empty, so index 0 is free; the leader's handle is unused. Should the
        // allocation still be refused, the file stays (empty) and the error says why.
        var allocated = AllocateChunk(op.Path, 0, op.FirstChunk, op.FirstReplicas, created.Value, time);
        return allocated.Code == ErrorCode.Ok ? created : allocated;
    }

    /// <summary>Applies each grouped command as if it had its own log entry (its own exactly-once check and result).</summary>
    private CommandResult ApplyGroup(GroupOp group)
    {
        var commands = group.Commands ?? [];
        var results = new CommandResult[commands.Length];
        for (var i = 0; i < commands.Length; i++)
        {
            results[i] = commands[i] is { Op: not GroupOp } inner
                ? Apply(inner)
                : CommandResult.Error(ErrorCode.InvalidArgument, "a group holds commands, not groups");
        }

        return new CommandResult { Code = ErrorCode.Ok, Batch = results };
    }

    private CommandResult ApplyBatch(BatchOp batch, long time)
    {
        var ops = batch.Ops ?? [];
        var results = new CommandResult[ops.Length];
        for (var i = 0; i < ops.Length; i++)
        {
            try
            {
                results[i] = ops[i] is { } op
                    ? ApplyOp(op, time, nested: true)
                    : CommandResult.Error(ErrorCode.InvalidArgument, "empty operation in batch");
            }
            catch (Exception e)
            {
                results[i] = CommandResult.Error(ErrorCode.Internal, $"internal error applying command: {e.GetType().Name}");
            }
        }

        return new CommandResult { Code = ErrorCode.Ok, Batch = results };
    }

    private ClientSession GetSession(long clientId)
    {
        if (!sessions.TryGetValue(clientId, out var session))
        {
            if (sessions.Count >= MasterLimits.MaxClients)
            {
                // Forget the least recently seen client; LastSeen values are unique, so the choice is deterministic.
                var oldest = sessions.Values.MinBy(s => s.LastSeen)!;
                sessions.Remove(oldest.ClientId);
            }

            session = new ClientSession(clientId);
            sessions.Add(clientId, session);
        }

        session.LastSeen = AppliedCommands;
        return session;
    }
}
