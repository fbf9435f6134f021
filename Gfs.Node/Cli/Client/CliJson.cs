using System.Text.Json;
using System.Text.Json.Serialization;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Protocol.Master;

namespace Gfs.Node.Cli.Client;

// The --json shapes. They are a documented interface (docs/cli.md): add properties, never rename or remove.

/// <summary>One file or directory (<c>stat</c>, and each entry of <c>ls</c>).</summary>
internal sealed record EntryJson(
    string Path,
    string Name,
    string Kind,
    long Size,
    long ModifiedUnixMs,
    string Modified,
    int Replication,
    int ChunkSize,
    int Count)
{
    public static EntryJson From(string path, EntryAttributes entry) => new(
        path,
        entry.Name,
        KindName(entry.Kind),
        entry.Size,
        entry.ModifiedUnixMs,
        DateTimeOffset.FromUnixTimeMilliseconds(entry.ModifiedUnixMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture),
        entry.Goal,
        entry.ChunkSize,
        entry.Count);

    public static string KindName(EntryKind kind) => kind switch
    {
        EntryKind.Directory => "directory",
        EntryKind.File => "file",
        _ => "unknown",
    };
}

internal sealed record ListJson(IReadOnlyList<EntryJson> Entries);

internal sealed record DuEntryJson(string Path, long Size, long ReplicatedSize, long Files, long Directories);

internal sealed record DuJson(IReadOnlyList<DuEntryJson> Entries);

internal sealed record ChunkserverJson(string Id, string Url, string Rack, long CapacityBytes, long UsedBytes, long FreeBytes, int Chunks, bool Dead, long LastHeartbeatMsAgo)
{
    public static ChunkserverJson From(ChunkserverStatus s) => new(s.ServerId, s.Url, s.Rack, s.CapacityBytes, s.UsedBytes, s.FreeBytes, s.ChunkCount, s.Dead, s.LastHeartbeatMsAgo);
}

internal sealed record DfJson(long CapacityBytes, long UsedBytes, long FreeBytes, double UsedPercent, int Live, int Dead, IReadOnlyList<ChunkserverJson> Chunkservers);

internal sealed record TransferJson(string Source, string Destination, long Bytes, double Seconds, double MegabytesPerSecond);

internal sealed record AppendedRecordJson(long Offset, int Length);

internal sealed record AppendJson(string Path, IReadOnlyList<AppendedRecordJson> Records);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(EntryJson))]
[JsonSerializable(typeof(ListJson))]
[JsonSerializable(typeof(DuJson))]
[JsonSerializable(typeof(DfJson))]
[JsonSerializable(typeof(TransferJson))]
[JsonSerializable(typeof(AppendJson))]
[JsonSerializable(typeof(Bench.BenchJson))]
internal sealed partial class CliJsonContext : JsonSerializerContext;

internal static class CliJson
{
    /// <summary>Writes one JSON document on one line.</summary>
    public static void Write<T>(TextWriter writer, T value)
    {
        writer.WriteLine(JsonSerializer.Serialize(value, typeof(T), CliJsonContext.Default));
        writer.Flush();
    }
}
