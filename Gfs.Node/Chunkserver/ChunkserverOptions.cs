using Gfs.Client.Protocol.Chunk;

namespace Gfs.Node.Chunkserver;

/// <summary>Settings of one chunkserver process; validated by <see cref="Validate"/> before anything starts.</summary>
public sealed class ChunkserverOptions
{
    /// <summary>Largest push accepted: one whole chunk.</summary>
    public const long MaxPushBytes = Gfs.Storage.ChunkStoreOptions.MaxChunkSize;

    /// <summary>Every master replica; heartbeats go to each of them.</summary>
    public List<Uri> Masters { get; set; } = [];

    /// <summary>The data directory: the chunk store lives under <c>chunks/</c>, the identity in <c>server-id</c>.</summary>
    public string DataDirectory { get; set; } = "";

    /// <summary>The rack reported to the masters (placement spreads replicas across racks).</summary>
    public string Rack { get; set; } = "";

    /// <summary>Most bytes held in the push buffer at once. Default 1 GiB.</summary>
    public long BufferBytes { get; set; } = 1024L * 1024 * 1024;

    /// <summary>Pushed data not used by a mutation is dropped after this long. Default 60 s.</summary>
    public TimeSpan BufferTtl { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Time between two heartbeats to each master. Default 1 s.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A full chunk report goes to each master at least this often. Default 60 s.</summary>
    public TimeSpan FullReportInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Budget of one call to another chunkserver (apply) or to a master (heartbeat). Default 10 s.</summary>
    public TimeSpan PeerCallTimeout { get; set; } = Gfs.Client.Protocol.Chunk.DataPathTimeouts.ApplyCall;

    /// <summary>Most chunks whose files are kept open (least recently used ones are closed above it). Default 1024.</summary>
    public int MaxOpenFiles { get; set; } = 1024;

    /// <summary>
    /// Most mutations (writes, record appends) waiting for one chunk's serial lock on its primary; more are
    /// refused with Busy at once. Each can pin up to 256 KiB of inline data plus its pushed data. Default 64.
    /// </summary>
    public int MaxWaitingMutations { get; set; } = 64;

    /// <summary>
    /// A chunk's in-memory state (serial lock, last grant) is dropped after this long unused and
    /// without a lease. Default 10 min: far longer than a lease or a client's retries.
    /// </summary>
    public TimeSpan ChunkStateIdle { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// After a start, serve no reads until the leader has checked this server's full chunk report
    /// (a replica that missed mutations while the server was down is fenced first). Default true; tests
    /// that play the master themselves turn it off.
    /// </summary>
    public bool FenceReadsUntilChecked { get; set; } = true;

    /// <summary>Most chunks in one heartbeat; a longer full report goes in parts. Default <see cref="HeartbeatRequest.MaxReportChunks"/>.</summary>
    public int ReportPartChunks { get; set; } = HeartbeatRequest.MaxReportChunks;

    /// <summary>Throws <see cref="ArgumentException"/> when a setting is unusable.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(DataDirectory))
        {
            throw new ArgumentException("--data is required");
        }

        if (Masters.Count == 0)
        {
            throw new ArgumentException("--masters needs at least one URL");
        }

        if (BufferBytes < 1024 * 1024)
        {
            throw new ArgumentException("the push buffer must hold at least 1 MiB");
        }

        if (HeartbeatInterval <= TimeSpan.Zero || BufferTtl <= TimeSpan.Zero || FullReportInterval <= TimeSpan.Zero || PeerCallTimeout <= TimeSpan.Zero || ChunkStateIdle <= TimeSpan.Zero)
        {
            throw new ArgumentException("intervals and timeouts must be positive");
        }

        if (MaxOpenFiles < 1)
        {
            throw new ArgumentException("--max-open-files must be at least 1");
        }

        if (ReportPartChunks < 1)
        {
            throw new ArgumentException("a report part must hold at least one chunk");
        }

        if (MaxWaitingMutations < 1)
        {
            throw new ArgumentException("at least one mutation must be allowed to wait for a chunk");
        }
    }
}
