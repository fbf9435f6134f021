using Gfs.Client.Protocol;
using Microsoft.Extensions.Logging;

namespace Gfs.Node.Chunkserver;

/// <summary>Source-generated log messages of the chunkserver role. Event ids 1300–1399.</summary>
internal static partial class ChunkserverLog
{
    [LoggerMessage(1300, LogLevel.Information, "Chunkserver {ServerId} serving {Chunks} chunks from {Directory}; masters {Masters}; rack '{Rack}'; push buffer {BufferMiB} MiB, TTL {TtlSeconds} s; heartbeat every {HeartbeatMs} ms")]
    public static partial void Started(ILogger logger, string serverId, long chunks, string directory, string masters, string rack, long bufferMiB, double ttlSeconds, double heartbeatMs);

    [LoggerMessage(1301, LogLevel.Warning, "Heartbeat to master {Master} failed ({Failures} in a row): {Message}")]
    public static partial void HeartbeatFailed(ILogger logger, Uri master, int failures, string message);

    [LoggerMessage(1302, LogLevel.Information, "Master {Master} answers heartbeats again (leader: {IsLeader})")]
    public static partial void HeartbeatRecovered(ILogger logger, Uri master, bool isLeader);

    [LoggerMessage(1303, LogLevel.Information, "Order from master {Master}: delete chunk {Handle:x16} (version {Version}, order at most {OrderVersion})")]
    public static partial void Deleting(ILogger logger, Uri master, long handle, long version, long orderVersion);

    [LoggerMessage(1304, LogLevel.Information, "Order from master {Master}: keeping chunk {Handle:x16} at version {Version} (order only for versions up to {OrderVersion})")]
    public static partial void DeleteSkipped(ILogger logger, Uri master, long handle, long version, long orderVersion);

    [LoggerMessage(1305, LogLevel.Warning, "Chunk {Handle:x16} failed verification: {Message}")]
    public static partial void VerifyFailed(ILogger logger, long handle, string message);

    [LoggerMessage(1306, LogLevel.Warning, "Order {Kind} on chunk {Handle:x16} failed: {Message}")]
    public static partial void OrderFailed(ILogger logger, string kind, long handle, string message);

    [LoggerMessage(1307, LogLevel.Debug, "Grant chunk {Handle:x16} version {Version} (create {Create}, primary {Primary}, lease {LeaseMs} ms, term {Term})")]
    public static partial void Granted(ILogger logger, long handle, long version, bool create, bool primary, long leaseMs, long term);

    [LoggerMessage(1308, LogLevel.Debug, "Push {DataId} of {Length} bytes: downstream {Next} failed: {Message}")]
    public static partial void ForwardFailed(ILogger logger, string dataId, long length, string next, string message);

    [LoggerMessage(1309, LogLevel.Debug, "Apply of chunk {Handle:x16} serial {Serial} on secondary {ServerId} failed: {Code} {Message}")]
    public static partial void ApplyFailed(ILogger logger, long handle, long serial, string serverId, ErrorCode code, string message);

    [LoggerMessage(1310, LogLevel.Debug, "Dropped {Count} expired pushes from the buffer")]
    public static partial void Expired(ILogger logger, int count);

    [LoggerMessage(1320, LogLevel.Debug, "Dropped the in-memory state of {Count} idle chunks ({Left} left)")]
    public static partial void StatesEvicted(ILogger logger, int count, int left);

    [LoggerMessage(1321, LogLevel.Debug, "Push {DataId}: the next hop {Next} is busy: {Message}")]
    public static partial void PushHopBusy(ILogger logger, string dataId, Uri next, string message);

    [LoggerMessage(1311, LogLevel.Warning, "Corrupt chunk {Handle:x16}: {Message}")]
    public static partial void Corrupt(ILogger logger, long handle, string message);

    [LoggerMessage(1312, LogLevel.Information, "Chunkserver {ServerId} stopped")]
    public static partial void Stopped(ILogger logger, string serverId);

    [LoggerMessage(1330, LogLevel.Information, "Ignored the orders of {Master}: it leads term {Term}, older than term {Highest} seen here (a deposed leader)")]
    public static partial void OldLeaderIgnored(ILogger logger, Uri master, long term, long highest);
}
