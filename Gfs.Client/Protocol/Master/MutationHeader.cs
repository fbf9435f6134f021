using MessagePack;

namespace Gfs.Client.Protocol.Master;

/// <summary>
/// Identifies a mutation for exactly-once execution: the master keeps each client's last request
/// id and its result, so a retry with the same pair (after a timeout or a leader change) returns
/// the first result instead of applying the operation again.
/// </summary>
[MessagePackObject]
public sealed class MutationHeader
{
    /// <summary>
    /// How many of a client's most recent request ids the master remembers. A client must not
    /// issue request id n before every id up to n - Window has completed, or a slow request could
    /// fall below what the master remembers and be refused.
    /// </summary>
    public const int Window = 32;

    /// <summary>A random, non-zero id chosen once per client instance.</summary>
    [Key(0)]
    public long ClientId { get; set; }

    /// <summary>Increases with every new mutation of the client; a retry reuses it.</summary>
    [Key(1)]
    public long RequestId { get; set; }
}
