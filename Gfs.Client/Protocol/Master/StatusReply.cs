using MessagePack;

namespace Gfs.Client.Protocol.Master;

/// <summary>What one master replica knows about itself and the cluster.</summary>
[MessagePackObject]
public sealed class StatusReply
{
    /// <summary>This replica's member id.</summary>
    [Key(0)]
    public int MemberId { get; set; }

    /// <summary>True when this replica is the leader.</summary>
    [Key(1)]
    public bool IsLeader { get; set; }

    /// <summary>The current Raft term.</summary>
    [Key(2)]
    public long Term { get; set; }

    /// <summary>The leader's client URL, when known.</summary>
    [Key(3)]
    public string? LeaderUrl { get; set; }

    /// <summary>Highest log index applied to this replica's state.</summary>
    [Key(4)]
    public long AppliedIndex { get; set; }

    /// <summary>A hash of this replica's whole state; equal on replicas that applied the same log.</summary>
    [Key(5)]
    public ulong StateHash { get; set; }

    /// <summary>Files in the namespace.</summary>
    [Key(6)]
    public long Files { get; set; }

    /// <summary>Directories in the namespace.</summary>
    [Key(7)]
    public long Directories { get; set; }

    /// <summary>Chunks in the chunk table.</summary>
    [Key(8)]
    public long Chunks { get; set; }

    /// <summary>The software version.</summary>
    [Key(9)]
    public string Version { get; set; } = "";

    /// <summary>Chunkservers this master has heard from, with their last reported capacity and load.</summary>
    [Key(10)]
    public List<Chunk.ChunkserverStatus> Chunkservers { get; set; } = [];
}
