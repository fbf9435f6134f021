namespace Gfs.Consensus;

/// <summary>
/// This member cannot take the request because it is not (or no longer) the leader. When
/// <see cref="OutcomeUnknown"/> is true the command may still be committed by a later leader: the
/// client retries with the same request id and the state's exactly-once table answers.
/// </summary>
public sealed class NotLeaderException : Exception
{
    public NotLeaderException()
        : this(null, false)
    {
    }

    public NotLeaderException(string message)
        : base(message)
    {
    }

    public NotLeaderException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public NotLeaderException(RaftLeaderInfo? leader, bool outcomeUnknown, Exception? innerException = null)
        : base(outcomeUnknown ? "leadership was lost while the command was in flight; its outcome is unknown" : "this member is not the leader", innerException)
    {
        Leader = leader;
        OutcomeUnknown = outcomeUnknown;
    }

    /// <summary>The leader as this member knows it, or null when there is none.</summary>
    public RaftLeaderInfo? Leader { get; }

    public bool OutcomeUnknown { get; }
}
