namespace Gfs.Storage;

/// <summary>Configuration of one chunk store (one disk). Validated by <see cref="Validate"/> when the store opens.</summary>
public sealed class ChunkStoreOptions
{
    /// <summary>Checksummed block size: fixed, one CRC32C per 64 KiB.</summary>
    public const int BlockSize = 64 * 1024;

    /// <summary>Largest chunk size the store accepts.</summary>
    public const long MaxChunkSize = 64L * 1024 * 1024;

    /// <summary>
    /// Record-append identities a chunk keeps per client: its last so many sequences (the exactly-once window).
    /// Part of the on-disk format, not a setting: every replica must forget the same entries.
    /// </summary>
    public const int AppendsPerClient = 64;

    /// <summary>Record-append identities a chunk keeps at most; above it the oldest of all goes. Part of the format, as <see cref="AppendsPerClient"/>.</summary>
    public const int AppendsPerChunk = 256;

    /// <summary>Root directory of the store; created if absent.</summary>
    public string Directory { get; set; } = "";

    /// <summary>Maximum chunk size: a multiple of <see cref="BlockSize"/>, at most 64 MiB. Fixed when the store is created.</summary>
    public long ChunkSize { get; set; } = MaxChunkSize;

    /// <summary>How often the index is checkpointed (which bounds write-ahead log replay at start).</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Write-ahead log bytes after which a checkpoint is taken regardless of the interval.</summary>
    public long CheckpointWalBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Size of each preallocated write-ahead log segment.</summary>
    public long WalSegmentSize { get; set; } = 64L * 1024 * 1024;

    /// <summary>Memory the FASTER index may use before it pages to disk.</summary>
    public long IndexMemorySize { get; set; } = 64L * 1024 * 1024;

    /// <summary>Scrubber read rate in bytes per second.</summary>
    public long ScrubberBandwidth { get; set; } = 16L * 1024 * 1024;

    /// <summary>A chunk is scrubbed only when it has not been mutated for this long.</summary>
    public TimeSpan ScrubberIdleTime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Pause between two full scrubber passes.</summary>
    public TimeSpan ScrubberPassInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Verify every block of every chunk while opening (reads the whole disk; off by default: the scrubber covers
    /// idle chunks in the background). Missing, short and orphan files are always handled at start.
    /// </summary>
    public bool VerifyAtStart { get; set; }

    /// <summary>Read window of the verifying reader (a multiple of <see cref="BlockSize"/>).</summary>
    public int ReadWindow { get; set; } = 1024 * 1024;

    /// <summary>
    /// Write the 4096-aligned part of bytes appended at a chunk's end with O_DIRECT, bypassing the page cache (its
    /// copy costs more CPU than the disk write). On by default; a file system that refuses O_DIRECT (EINVAL) turns
    /// it off for the store by itself. Unaligned tails, record appends at unaligned offsets and overwrites in place
    /// always use buffered writes.
    /// </summary>
    public bool DirectWrites { get; set; } = true;

    /// <summary>
    /// Most chunks whose files the store keeps open (each holds one descriptor, two once written with O_DIRECT);
    /// the least recently used are closed above it and reopened on their next use. Default 1024, so a chunkserver
    /// with hundreds of thousands of chunks (small files are a chunk each) stays far below the process's
    /// descriptor limit (20,000 here; 1,024 on many systems before .NET raises it to the hard limit).
    /// </summary>
    public int MaxOpenFiles { get; set; } = 1024;

    /// <summary>Test seam: named fault injection points (see <see cref="Io.Failpoints"/>).</summary>
    internal Io.Failpoints? Failpoints { get; set; }

    /// <summary>Throws <see cref="ChunkStoreException"/> (InvalidArgument) when a setting is unusable.</summary>
    public void Validate()
    {
        static void Fail(string what) => throw new ChunkStoreException(ChunkStoreError.InvalidArgument, "invalid ChunkStoreOptions: " + what);

        if (string.IsNullOrWhiteSpace(Directory))
        {
            Fail("Directory is required");
        }

        if (ChunkSize < BlockSize || ChunkSize > MaxChunkSize || ChunkSize % BlockSize != 0)
        {
            Fail($"ChunkSize {ChunkSize} must be a multiple of {BlockSize} between {BlockSize} and {MaxChunkSize}");
        }

        if (CheckpointInterval <= TimeSpan.Zero)
        {
            Fail("CheckpointInterval must be positive");
        }

        if (MaxOpenFiles < 1)
        {
            Fail($"MaxOpenFiles {MaxOpenFiles} must be at least 1");
        }

        if (CheckpointWalBytes <= 0)
        {
            Fail("CheckpointWalBytes must be positive");
        }

        if (WalSegmentSize < 64 * 1024)
        {
            Fail("WalSegmentSize must be at least 64 KiB");
        }

        if (IndexMemorySize < 1024 * 1024)
        {
            Fail("IndexMemorySize must be at least 1 MiB");
        }

        if (ScrubberBandwidth <= 0)
        {
            Fail("ScrubberBandwidth must be positive");
        }

        if (ScrubberIdleTime < TimeSpan.Zero || ScrubberPassInterval < TimeSpan.Zero)
        {
            Fail("scrubber times must not be negative");
        }

        if (ReadWindow < BlockSize || ReadWindow % BlockSize != 0 || ReadWindow > 16 * 1024 * 1024)
        {
            Fail("ReadWindow must be a multiple of 64 KiB up to 16 MiB");
        }
    }
}
