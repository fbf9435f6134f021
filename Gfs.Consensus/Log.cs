using Microsoft.Extensions.Logging;

namespace Gfs.Consensus;

/// <summary>Source-generated log messages of Gfs.Consensus (event ids 4000–4099).</summary>
internal static partial class Log
{
    [LoggerMessage(4000, LogLevel.Information, "Raft configuration: {Options}")]
    public static partial void Configuration(ILogger logger, GfsRaftOptions options);

    [LoggerMessage(4001, LogLevel.Information, "Restored state from snapshot {Index} (term {Term}, {Bytes} bytes) in {Milliseconds} ms")]
    public static partial void Restored(ILogger logger, long index, long term, long bytes, long milliseconds);

    [LoggerMessage(4002, LogLevel.Information, "Snapshot {Index} written: {Bytes} bytes, apply paused {FreezeMicroseconds} µs, written in {Milliseconds} ms")]
    public static partial void SnapshotWritten(ILogger logger, long index, long bytes, long freezeMicroseconds, long milliseconds);

    [LoggerMessage(4003, LogLevel.Error, "Writing snapshot {Index} failed")]
    public static partial void SnapshotFailed(ILogger logger, long index, Exception exception);

    [LoggerMessage(4004, LogLevel.Information, "Installed snapshot {Index} (term {Term}) from the leader in {Milliseconds} ms")]
    public static partial void SnapshotInstalled(ILogger logger, long index, long term, long milliseconds);

    [LoggerMessage(4005, LogLevel.Critical, "Applying entry {Index} threw; the state machine contract forbids it and replicas may diverge")]
    public static partial void ApplyThrew(ILogger logger, long index, Exception exception);

    [LoggerMessage(4006, LogLevel.Warning, "Entry {Index} has no valid framing and is skipped")]
    public static partial void BadFraming(ILogger logger, long index);

    [LoggerMessage(4007, LogLevel.Information, "Leader is now {Leader} (term {Term})")]
    public static partial void LeaderChanged(ILogger logger, string leader, long term);

    [LoggerMessage(4008, LogLevel.Critical, "Installing snapshot {Index} from the leader failed; the apply loop stops")]
    public static partial void InstallFailed(ILogger logger, long index, Exception exception);

    [LoggerMessage(4009, LogLevel.Warning, "Reading the metadata of member {Member} failed")]
    public static partial void MetadataFailed(ILogger logger, string member, Exception exception);
}
