using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;

namespace Gfs.Master.Cluster;

public sealed partial class ChunkserverRegistry
{
    /// <summary>
    /// Chooses up to <paramref name="count"/> distinct live servers for a new chunk: each rack once
    /// before any rack twice, and within that the largest free-space fraction weighed against recent
    /// creations (a counter that halves every <see cref="DataPathOptions.CreationHalfLife"/>). Servers
    /// with less than <paramref name="chunkSize"/> free are skipped. Fewer than asked are returned
    /// when fewer qualify; none qualifying is <see cref="ErrorCode.Unavailable"/>.
    /// </summary>
    public List<ReplicaLocation> Place(int count, long chunkSize, IReadOnlyCollection<string>? exclude = null)
    {
        var now = Now;
        lock (gate)
        {
            var candidates = servers.Values
                .Where(s => IsLive(s, now) && s.FreeBytes >= chunkSize && (exclude is null || !exclude.Contains(s.Id)))
                .Select(s => (Server: s, Score: Score(s, now)))
                .OrderByDescending(c => c.Score)
                .ThenBy(c => c.Server.Id, StringComparer.Ordinal)
                .ToList();
            if (candidates.Count == 0)
            {
                throw new GfsException(ErrorCode.Unavailable, "no live chunkserver has room for a new chunk");
            }

            var chosen = new List<Server>(count);
            var racks = new HashSet<string>(StringComparer.Ordinal);
            while (chosen.Count < count && candidates.Count > 0)
            {
                // The best server in a rack not used yet; when every rack is used, the best left.
                var at = candidates.FindIndex(c => !racks.Contains(c.Server.Rack));
                if (at < 0)
                {
                    racks.Clear();
                    at = 0;
                }

                var server = candidates[at].Server;
                candidates.RemoveAt(at);
                racks.Add(server.Rack);
                chosen.Add(server);
            }

            foreach (var server in chosen)
            {
                server.RecentCreations = Decayed(server, now) + 1;
                server.RecentAt = now;
            }

            return chosen.Select(s => s.Location()).ToList();
        }
    }

    private double Score(Server server, long now)
    {
        var free = server.CapacityBytes > 0 ? (double)server.FreeBytes / server.CapacityBytes : 0;
        return free / (1 + (0.25 * Decayed(server, now)));
    }

    private double Decayed(Server server, long now)
    {
        if (server.RecentCreations == 0)
        {
            return 0;
        }

        var halfLives = (now - server.RecentAt) / (double)Ticks(Options.CreationHalfLife);
        return server.RecentCreations * Math.Pow(0.5, halfLives);
    }
}
