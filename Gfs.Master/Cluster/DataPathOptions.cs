using Gfs.Client.Protocol.Chunk;

namespace Gfs.Master.Cluster;

/// <summary>Timings of the master's data-path soft state (docs/data-path.md, docs/master.md).</summary>
public sealed record DataPathOptions
{
    /// <summary>Length of a lease and of each extension. Default 60 s (<c>--lease-seconds</c>).</summary>
    public TimeSpan LeaseLength { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Added to every lease end the master records: its view of a lease always outlasts the primary's.</summary>
    public TimeSpan LeaseGrace { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A chunkserver without a heartbeat for this long is dead. Default 10 s (<c>--dead-after-seconds</c>).</summary>
    public TimeSpan DeadAfter { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>An order not yet carried out is sent again after this long.</summary>
    public TimeSpan OrderResend { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often one chunkserver's replicas are checked for stale and orphaned ones.</summary>
    public TimeSpan OrderScanInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest a lease request waits for an old lease to expire before answering Unavailable (<see cref="DataPathTimeouts.MaxLeaseWait"/>).</summary>
    public TimeSpan MaxLeaseWait { get; init; } = DataPathTimeouts.MaxLeaseWait;

    /// <summary>
    /// Time budget of one Grant call to a chunkserver (<see cref="DataPathTimeouts.Grant"/>): longer than
    /// a chunkserver's forward to a secondary may hold the chunk's serial lock, which the grant waits for.
    /// </summary>
    public TimeSpan GrantTimeout { get; init; } = DataPathTimeouts.Grant;

    /// <summary>Half-life of the recent-creations counter placement uses to spread new chunks.</summary>
    public TimeSpan CreationHalfLife { get; init; } = TimeSpan.FromSeconds(60);

    public void Validate()
    {
        if (LeaseLength <= TimeSpan.Zero || DeadAfter <= TimeSpan.Zero || LeaseGrace < TimeSpan.Zero)
        {
            throw new ArgumentException("lease length and dead-after must be positive");
        }

        if (GrantTimeout <= DataPathTimeouts.ApplyCall)
        {
            throw new ArgumentException($"the grant timeout ({GrantTimeout.TotalSeconds} s) must be longer than a chunkserver's forward to a secondary ({DataPathTimeouts.ApplyCall.TotalSeconds} s), which a grant waits for");
        }
    }
}
