using Gfs.Client.Transport;

namespace Gfs.Client;

/// <summary>
/// Settings of a Gfs client. Immutable; derive variants with <c>with</c>.
/// </summary>
public sealed record GfsClientOptions
{
    /// <summary>
    /// URLs of the masters (any subset works: the client follows NotLeader replies to the leader).
    /// </summary>
    public IReadOnlyList<Uri> Masters { get; init; } = [];

    /// <summary>Transport settings (TLS roots, timeouts, HTTP/2 windows).</summary>
    public RpcClientOptions Transport { get; init; } = new();

    /// <summary>
    /// How long one operation may keep retrying across leader changes and unreachable masters
    /// before it fails with the last error. Default 30 s (a failover takes about a second).
    /// A chunk mutation (one piece of a write, one record append) keeps retrying for the later of
    /// this and the end of the last lease it held on the chunk plus <see cref="LeaseRecoveryMargin"/>:
    /// when a primary becomes unreachable, the master names a new one only after the old lease (60 s
    /// by default) has ended, so giving up before then would fail a write the system could still complete.
    /// </summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long after the end of the last lease it held a chunk mutation still retries (when that is
    /// later than <see cref="OperationTimeout"/>): time for the master's lease grace, a new grant and
    /// the retried commit once the old lease has run out. Default 15 s.
    /// </summary>
    public TimeSpan LeaseRecoveryMargin { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Time budget of one attempt against one master. Default 10 s.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>First pause between retries; it doubles up to <see cref="MaxRetryDelay"/>, with jitter. Default 50 ms.</summary>
    public TimeSpan InitialRetryDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Longest pause between retries. Default 1 s.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// This client's host name or address, sent with location and lease requests so the master
    /// orders replicas nearest first. Default: the machine's DNS host name (empty if unknown).
    /// </summary>
    public string ClientHost { get; init; } = DefaultHost();

    /// <summary>
    /// Size of the pieces data moves in: a writer buffers, pushes and commits a piece at a time, a
    /// reader downloads a piece at a time. At most this many bytes per pooled buffer. Default 8 MiB.
    /// </summary>
    public int PieceSize { get; init; } = 8 << 20;

    /// <summary>
    /// Writes and records of at most this many bytes travel inline in the commit to the primary, which
    /// forwards them to the secondaries, instead of being pushed first: one round trip instead of two
    /// for small files and small records. 0 pushes everything. At most
    /// <see cref="Protocol.Chunk.ChunkRoutes.MaxInlineBytes"/> (256 KiB, the default); larger values are capped.
    /// </summary>
    public int InlineBytes { get; init; } = Protocol.Chunk.ChunkRoutes.MaxInlineBytes;

    /// <summary>Pieces a writer keeps in flight (pushed or committing) before a write waits. Default 2.</summary>
    public int WritePiecesInFlight { get; init; } = 2;

    /// <summary>Pieces a sequential reader downloads ahead of the one it reads. 0 disables read-ahead. Default 2.</summary>
    public int ReadAhead { get; init; } = 4;

    /// <summary>How long cached file attributes and chunk locations are trusted. Default 30 s.</summary>
    public TimeSpan LocationCacheTtl { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Chunk locations asked for in one <c>master/GetChunks</c> call. Default 64.</summary>
    public int LocationPageSize { get; init; } = 64;

    /// <summary>
    /// Time budget of one chunkserver call (a push, a commit, a piece download). Default 60 s. A
    /// failed call is retried until <see cref="OperationTimeout"/>.
    /// </summary>
    public TimeSpan ChunkCallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>A cached lease is renewed this long before the master said it expires. Default 5 s.</summary>
    public TimeSpan LeaseRenewMargin { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The clock leases and timeouts are measured with. Default the system clock.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Parses a comma-separated list of master URLs, as in <c>--masters</c> or <c>GFS_MASTERS</c>.</summary>
    public static IReadOnlyList<Uri> ParseMasters(string masters)
    {
        ArgumentNullException.ThrowIfNull(masters);
        var list = masters.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(m => Uri.TryCreate(m, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
                ? uri
                : throw new ArgumentException($"'{m}' is not an http:// or https:// URL", nameof(masters)))
            .ToList();
        return list.Count > 0 ? list : throw new ArgumentException("no master URL given", nameof(masters));
    }

    private static string DefaultHost()
    {
        try
        {
            return System.Net.Dns.GetHostName();
        }
        catch (System.Net.Sockets.SocketException)
        {
            return "";
        }
    }
}
