namespace Gfs.Master.State;

public sealed partial class MasterState
{
    // Server ids named in grants, numbered from 1 in the order they were first seen (deterministic on
    // every replica). Servers are few, so the table stays small; chunk records keep the numbers.
    private readonly List<string> grantServers = [];
    private readonly Dictionary<string, ushort> grantServerNumbers = new(StringComparer.Ordinal);

    // Grants to more than three servers (goals above 3): the whole list, by chunk handle.
    private readonly Dictionary<long, ushort[]> grantOverflow = [];

    /// <summary>
    /// How the chunk's current version was granted, or null when the chunk is unknown or its grant was
    /// not recorded (a state from before grants were kept).
    /// </summary>
    public ChunkGrant? GrantOf(long handle)
    {
        var slot = ChunkFind(handle);
        if (slot == None)
        {
            return null;
        }

        var c = chunks[slot];
        if (c.BaseBack == 0 || c.Granted0 == 0)
        {
            return null;
        }

        var numbers = grantOverflow.TryGetValue(handle, out var more) ? more : Inline(c);
        var servers = new string[numbers.Length];
        for (var i = 0; i < numbers.Length; i++)
        {
            if (numbers[i] == 0 || numbers[i] > grantServers.Count)
            {
                return null;
            }

            servers[i] = grantServers[numbers[i] - 1];
        }

        return new ChunkGrant(c.Version, c.Version - c.BaseBack, servers);
    }

    private static ushort[] Inline(in ChunkRecord c)
        => c.Granted2 != 0 ? [c.Granted0, c.Granted1, c.Granted2] : c.Granted1 != 0 ? [c.Granted0, c.Granted1] : [c.Granted0];

    /// <summary>
    /// Records that the chunk's current version was granted to <paramref name="servers"/> from replicas
    /// at <paramref name="baseVersion"/> or later. An empty list, or one naming a server the table has no
    /// room for, leaves the grant unknown (the safe reading: replicas behind the version are stale).
    /// </summary>
    private void RecordGrant(int slot, IReadOnlyList<string>? servers, long baseVersion)
    {
        ref var c = ref chunks.GetForWrite(slot);
        grantOverflow.Remove(c.Handle);
        c.Granted0 = c.Granted1 = c.Granted2 = 0;
        c.BaseBack = 0;
        var back = c.Version - baseVersion;
        if (servers is null || servers.Count == 0 || servers.Count > MasterLimits.MaxGoal || back <= 0 || back > ushort.MaxValue)
        {
            return;
        }

        var numbers = new ushort[servers.Count];
        for (var i = 0; i < servers.Count; i++)
        {
            if (ServerNumber(servers[i]) is not { } number)
            {
                return;
            }

            numbers[i] = number;
        }

        c.Granted0 = numbers[0];
        c.Granted1 = numbers.Length > 1 ? numbers[1] : (ushort)0;
        c.Granted2 = numbers.Length > 2 ? numbers[2] : (ushort)0;
        c.BaseBack = (ushort)back;
        if (numbers.Length > 3)
        {
            grantOverflow[c.Handle] = numbers;
        }
    }

    private ushort? ServerNumber(string? server)
    {
        if (string.IsNullOrEmpty(server) || server.Length > 256)
        {
            return null;
        }

        if (grantServerNumbers.TryGetValue(server, out var number))
        {
            return number;
        }

        if (grantServers.Count >= ushort.MaxValue)
        {
            return null;
        }

        grantServers.Add(server);
        number = (ushort)grantServers.Count;
        grantServerNumbers.Add(server, number);
        return number;
    }
}
