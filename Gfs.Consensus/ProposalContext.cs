namespace Gfs.Consensus;

/// <summary>Travels with a proposed entry as <c>LogEntry.Context</c> (proposing node only) and brings the apply result back.</summary>
internal sealed class ProposalContext(ulong id)
{
    private object? result;
    private volatile bool applied;

    public ulong Id { get; } = id;

    public bool Applied => applied;

    public object? Result => result;

    public void SetResult(object? value)
    {
        result = value;
        applied = true;
    }
}
