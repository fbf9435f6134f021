using Gfs.Master.Commands;

namespace Gfs.Master.State;

/// <summary>
/// Exactly-once record of one client: the results of its last <see cref="MasterLimits.ClientWindow"/>
/// request ids, sorted, and the largest id already forgotten (<see cref="Floor"/>). A request id at or
/// below the floor that is not in the window is refused rather than applied a second time.
/// </summary>
internal sealed class ClientSession(long clientId)
{
    public long ClientId { get; } = clientId;

    public long Floor { get; set; }

    /// <summary>The state's apply counter when this client was last seen (deterministic recency).</summary>
    public long LastSeen { get; set; }

    public long[] Ids { get; private set; } = new long[4];

    public CommandResult[] Results { get; private set; } = new CommandResult[4];

    public int Count { get; private set; }

    public int Find(long requestId) => Array.BinarySearch(Ids, 0, Count, requestId);

    public void Record(long requestId, CommandResult result)
    {
        var at = Find(requestId);
        if (at >= 0)
        {
            Results[at] = result;
            return;
        }

        at = ~at;
        if (Count == MasterLimits.ClientWindow)
        {
            // forget the smallest id
            Floor = Math.Max(Floor, Ids[0]);
            Array.Copy(Ids, 1, Ids, 0, Count - 1);
            Array.Copy(Results, 1, Results, 0, Count - 1);
            Count--;
            at--;
            if (at < 0)
            {
                // the new id is itself the smallest: it is forgotten at once
                Floor = Math.Max(Floor, requestId);
                return;
            }
        }

        if (Count == Ids.Length)
        {
            var n = Math.Clamp(Ids.Length * 2, 4, MasterLimits.ClientWindow);
            var ids = Ids;
            var results = Results;
            Array.Resize(ref ids, n);
            Array.Resize(ref results, n);
            Ids = ids;
            Results = results;
        }

        Array.Copy(Ids, at, Ids, at + 1, Count - at);
        Array.Copy(Results, at, Results, at + 1, Count - at);
        Ids[at] = requestId;
        Results[at] = result;
        Count++;
    }

    public ClientSession Clone()
    {
        var copy = new ClientSession(ClientId) { Floor = Floor, LastSeen = LastSeen };
        copy.Ids = Ids[..Count];
        copy.Results = Results[..Count];
        copy.Count = Count;
        return copy;
    }

    internal void Load(long[] ids, CommandResult[] results)
    {
        Ids = ids;
        Results = results;
        Count = ids.Length;
    }
}
