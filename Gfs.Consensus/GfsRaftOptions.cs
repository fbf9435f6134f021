namespace Gfs.Consensus;

/// <summary>
/// Configuration of one Raft member. Defaults are chosen for a loaded 2-core machine (docs/consensus.md):
/// elections 300–600 ms (measured: no spurious election under load, failover p50 0.8 s), votes give up
/// after 400 ms so that a paused peer cannot stall an election, HTTP/2 pings drop a peer that stopped
/// answering within about 2 s, and every other Raft RPC may take a minute so that a snapshot of hundreds
/// of MB reaches a lagging follower.
/// </summary>
public sealed class GfsRaftOptions
{
    /// <summary>Metadata key under which each member publishes its client URL.</summary>
    public const string ClientUrlMetadataKey = "gfs-client-url";

    /// <summary>This member's index in <see cref="Members"/>.</summary>
    public int MemberId { get; set; }

    /// <summary>The Raft URL of every member, in member-id order (static membership, normally three).</summary>
    public IList<Uri> Members { get; set; } = [];

    /// <summary>The URL clients use to reach this member; published as member metadata so followers can name the leader's.</summary>
    public Uri? ClientUrl { get; set; }

    /// <summary>Directory of the write-ahead log and the snapshots; created when missing.</summary>
    public string DataDirectory { get; set; } = "";

    public int LowerElectionTimeoutMs { get; set; } = 300;

    public int UpperElectionTimeoutMs { get; set; } = 600;

    /// <summary>Timeout of RequestVote and PreVote (and of connecting): below the election timeout so that a paused peer cannot stall an election.</summary>
    public TimeSpan VoteTimeout { get; set; } = TimeSpan.FromMilliseconds(400);

    /// <summary>Timeout of every other Raft RPC, InstallSnapshot included: above the worst snapshot transfer and load.</summary>
    public TimeSpan RpcTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Heartbeat period as a fraction of the lower election timeout.</summary>
    public double HeartbeatThreshold { get; set; } = 0.5;

    /// <summary>Serve linearizable reads from a leader lease (no round trip) while the lease holds.</summary>
    public bool LeaderLease { get; set; } = true;

    /// <summary>Size of one WAL chunk file in MiB; cannot change once the log exists.</summary>
    public int WalChunkSizeMiB { get; set; } = 16;

    /// <summary>
    /// Log pages live in private memory and are written back with O_DIRECT | O_DSYNC writes of the dirty range
    /// (DotNext's <c>PrivateMemory</c> + <c>NoBuffering</c>) instead of a shared memory map flushed with
    /// <c>msync</c>. Both are durable before a commit is acknowledged; the direct write costs one small
    /// synchronous write where <c>msync(MS_SYNC)</c> of a 16 MiB mapping took about 1.3 ms, and single-client
    /// commits ran 20–40 % faster (docs/consensus.md). The on-disk pages are the same either way, so a log
    /// written in one mode opens in the other. Default true.
    /// </summary>
    public bool WalDirectWrites { get; set; } = true;

    /// <summary>Log bytes applied since the last snapshot that trigger the next one.</summary>
    public long SnapshotLogBytes { get; set; } = 16L << 20;

    public string WalDirectory => Path.Combine(DataDirectory, "wal");

    public string SnapshotDirectory => Path.Combine(DataDirectory, "snapshots");

    public Uri LocalMember => Members[MemberId];

    /// <summary>Throws <see cref="ArgumentException"/> describing the first invalid setting.</summary>
    public void Validate()
    {
        if (Members.Count == 0)
        {
            throw new ArgumentException("at least one member URL is required", nameof(Members));
        }

        if (MemberId < 0 || MemberId >= Members.Count)
        {
            throw new ArgumentException($"member id {MemberId} is not an index of the {Members.Count} members", nameof(MemberId));
        }

        if (Members.Any(m => !m.IsAbsoluteUri) || Members.Distinct().Count() != Members.Count)
        {
            throw new ArgumentException("member URLs must be absolute and distinct", nameof(Members));
        }

        if (string.IsNullOrWhiteSpace(DataDirectory))
        {
            throw new ArgumentException("a data directory is required", nameof(DataDirectory));
        }

        if (LowerElectionTimeoutMs <= 0 || UpperElectionTimeoutMs <= LowerElectionTimeoutMs)
        {
            throw new ArgumentException("election timeouts must satisfy 0 < lower < upper", nameof(LowerElectionTimeoutMs));
        }

        if (VoteTimeout <= TimeSpan.Zero || VoteTimeout >= TimeSpan.FromMilliseconds(UpperElectionTimeoutMs))
        {
            throw new ArgumentException("the vote timeout must be positive and below the upper election timeout", nameof(VoteTimeout));
        }

        if (RpcTimeout <= TimeSpan.Zero || WalChunkSizeMiB <= 0 || SnapshotLogBytes <= 0)
        {
            throw new ArgumentException("timeouts and sizes must be positive");
        }
    }

    public override string ToString()
        => $"member {MemberId} of [{string.Join(", ", Members)}], client {ClientUrl}, data {DataDirectory}, "
            + $"election {LowerElectionTimeoutMs}-{UpperElectionTimeoutMs} ms, vote {VoteTimeout.TotalMilliseconds} ms, "
            + $"rpc {RpcTimeout.TotalSeconds} s, lease {LeaderLease}, wal chunk {WalChunkSizeMiB} MiB, snapshot every {SnapshotLogBytes >> 20} MiB of log";
}
