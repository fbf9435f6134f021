namespace Gfs.Client.Protocol.Chunk;

/// <summary>
/// The data path's default time budgets, defined once because they depend on each other: a Grant
/// waits for the chunk's serial lock, which a primary holds while it forwards a mutation to a
/// secondary, so a grant must be allowed longer than a forward; a lease request may wait for an
/// older lease and then grant twice, so a client's lease call must be allowed longer than all of that.
/// Servers take these as the defaults of their options (docs/data-path.md, "Time budgets").
/// </summary>
public static class DataPathTimeouts
{
    /// <summary>A primary's <c>chunk/Apply</c> to one secondary (and a chunkserver's other peer calls). 10 s.</summary>
    public static readonly TimeSpan ApplyCall = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The leader's <c>chunk/Grant</c> to one replica: the longest forward that may hold the chunk's
    /// serial lock (<see cref="ApplyCall"/>) plus 5 s for the grant's own store commit. 15 s.
    /// </summary>
    public static readonly TimeSpan Grant = ApplyCall + TimeSpan.FromSeconds(5);

    /// <summary>The longest a lease request waits for an older lease to end before it answers Unavailable. 10 s.</summary>
    public static readonly TimeSpan MaxLeaseWait = TimeSpan.FromSeconds(10);

    /// <summary>
    /// One attempt of a client's <c>master/LeaseChunk</c>: the wait for an older lease, two rounds of
    /// grants (a new chunk whose primary did not answer is granted again elsewhere), and 5 s for the
    /// log commits. 45 s.
    /// </summary>
    public static readonly TimeSpan LeaseAttempt = MaxLeaseWait + Grant + Grant + TimeSpan.FromSeconds(5);
}
