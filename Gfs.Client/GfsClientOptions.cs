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
    /// </summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Time budget of one attempt against one master. Default 10 s.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>First pause between retries; it doubles up to <see cref="MaxRetryDelay"/>, with jitter. Default 50 ms.</summary>
    public TimeSpan InitialRetryDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Longest pause between retries. Default 1 s.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

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
}
