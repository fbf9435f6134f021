using Gfs.Client.Protocol.Chunk;

namespace Gfs.Master.Cluster;

public sealed partial class ChunkserverRegistry
{
    /// <summary>
    /// The orders for one server (leader only): Verify for replicas reported bad, Delete for stale
    /// replicas (below the chunk's version; only while an up-to-date replica lives elsewhere and no
    /// lease decision is in flight, otherwise Fence: serve no reads of it) and for orphans (handles the state does not know but has allocated before: below
    /// the state's next chunk handle). Stale and orphan checks run every
    /// <see cref="DataPathOptions.OrderScanInterval"/> per server; an order is repeated only after
    /// <see cref="DataPathOptions.OrderResend"/>.
    /// </summary>
    /// <param name="serverId">The server.</param>
    /// <param name="versions">Maps handles to their versions in the state (0: unknown), with the state's next chunk handle.</param>
    /// <param name="busy">Chunks with a lease decision in flight: their replicas are left alone.</param>
    public List<ChunkOrder> Orders(string serverId, Func<IReadOnlyList<long>, (long[] Versions, long NextChunkHandle)> versions, Func<long, bool> busy)
        => Orders(serverId, versions, busy, out _);

    /// <summary>The orders for one server, and whether this call checked all of its replicas.</summary>
    /// <param name="serverId">The server.</param>
    /// <param name="versions">Maps handles to their versions in the state (0: unknown), with the state's next chunk handle.</param>
    /// <param name="busy">Chunks with a lease decision in flight: their replicas are fenced, not deleted.</param>
    /// <param name="scanned">True when this call checked every replica of the server's full report of its current start.</param>
    public List<ChunkOrder> Orders(string serverId, Func<IReadOnlyList<long>, (long[] Versions, long NextChunkHandle)> versions, Func<long, bool> busy, out bool scanned)
    {
        scanned = false;
        ArgumentNullException.ThrowIfNull(versions);
        ArgumentNullException.ThrowIfNull(busy);
        var now = Now;
        var orders = new List<ChunkOrder>();
        List<(long Handle, long Version)> held;
        lock (gate)
        {
            if (!servers.TryGetValue(serverId, out var server))
            {
                return orders;
            }

            // Only the replicas marked bad since the last heartbeat: a heartbeat must not cost a walk over every chunk.
            foreach (var handle in server.PendingVerify)
            {
                if (replicas.TryGetValue(handle, out var holders) && holders.TryGetValue(serverId, out var r) && r.Bad && !r.VerifyOrdered)
                {
                    holders[serverId] = r with { VerifyOrdered = true };
                    orders.Add(new ChunkOrder { Kind = ChunkOrderKind.Verify, Handle = handle });
                }
            }

            server.PendingVerify.Clear();

            if (now < server.NextScan)
            {
                return orders;
            }

            server.NextScan = now + Ticks(Options.OrderScanInterval);
            held = [.. server.Chunks.Select(static c => (c.Key, c.Value))];
            scanned = server.FullReportSeen && server.StartedUnixMs == server.Incarnation;
        }

        var (current, next) = versions(held.Select(h => h.Handle).ToList());
        lock (gate)
        {
            if (!servers.TryGetValue(serverId, out var server))
            {
                scanned = false;
                return orders;
            }

            var resend = Ticks(Options.OrderResend);
            for (var i = 0; i < held.Count; i++)
            {
                var (handle, version) = held[i];
                var behind = current[i] != 0 && version < current[i];
                var stale = behind && !busy(handle) && HasUpToDateElsewhere(handle, current[i], serverId, now);
                var orphan = current[i] == 0 && handle < next;
                var kind = stale || orphan ? ChunkOrderKind.Delete : behind ? ChunkOrderKind.Fence : (ChunkOrderKind?)null;
                if (kind is not { } order)
                {
                    continue;
                }

                // A replica behind the version that cannot go yet (a lease decision in flight, or no
                // up-to-date copy elsewhere) is still fenced: it must not serve what it missed.
                var key = (order, handle);
                if (server.SentOrders.TryGetValue(key, out var sent) && now - sent < resend)
                {
                    continue;
                }

                server.SentOrders[key] = now;
                orders.Add(new ChunkOrder { Kind = order, Handle = handle, Version = version });
            }

            // Forget orders for replicas that are gone.
            foreach (var key in server.SentOrders.Keys.Where(k => !server.Chunks.ContainsKey(k.Handle)).ToList())
            {
                server.SentOrders.Remove(key);
            }
        }

        return orders;
    }

    private bool HasUpToDateElsewhere(long handle, long version, string serverId, long now)
        => replicas.TryGetValue(handle, out var holders)
            && holders.Any(h => h.Key != serverId && h.Value.Version == version && !h.Value.Bad
                && servers.TryGetValue(h.Key, out var s) && IsLive(s, now));
}
