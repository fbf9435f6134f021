namespace Gfs.Client.Transport.Http2;

/// <summary>
/// Idle connections per endpoint (scheme, host, port). A call checks a connection out, runs one
/// request on it and gives it back; calls at the same time use separate connections. At most
/// <see cref="Http2ClientSettings.MaxIdlePerEndpoint"/> idle connections are kept per endpoint, and
/// one idle longer than <see cref="Http2ClientSettings.IdleTimeout"/> is closed.
/// </summary>
internal sealed class Http2ConnectionPool : IDisposable
{
    private readonly Dictionary<string, Stack<Http2Connection>> idle = new(StringComparer.Ordinal);
    private readonly Http2ClientSettings settings;
    private readonly Timer sweeper;
    private bool disposed;

    public Http2ConnectionPool(Http2ClientSettings settings)
    {
        this.settings = settings;
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, settings.IdleTimeout.Ticks / 4));
        sweeper = new Timer(static state => ((Http2ConnectionPool)state!).Sweep(), this, period, period);
    }

    /// <summary>Connections idle in the pool (all endpoints).</summary>
    public int IdleCount
    {
        get
        {
            lock (idle)
            {
                return idle.Values.Sum(s => s.Count);
            }
        }
    }

    /// <summary>
    /// A connection to <paramref name="node"/>: a pooled one that is still good, or a new one.
    /// Pooled connections that went stale while idle are closed and skipped.
    /// </summary>
    public async ValueTask<Http2Connection> RentAsync(Uri node, bool fresh, CancellationToken cancellationToken)
    {
        var key = Key(node);
        while (!fresh && TryPop(key) is { } connection)
        {
            if (Environment.TickCount64 - connection.IdleSince > settings.IdleTimeout.TotalMilliseconds)
            {
                connection.Dispose();
                continue;
            }

            bool good;
            try
            {
                good = await connection.CheckIdleAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                connection.Dispose();
                throw;
            }

            if (good)
            {
                return connection;
            }

            connection.Dispose();
        }

        ObjectDisposedException.ThrowIf(disposed, this);
        return await Http2Connection.ConnectAsync(node, settings, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Ends the connection's stream and pools it if it ended cleanly; closes it otherwise.</summary>
    public void Return(Http2Connection connection, Uri node)
    {
        if (!connection.EndStream())
        {
            connection.Dispose();
            return;
        }

        lock (idle)
        {
            var key = Key(node);
            if (!idle.TryGetValue(key, out var stack))
            {
                stack = new Stack<Http2Connection>();
                idle[key] = stack;
            }

            if (!disposed && stack.Count < settings.MaxIdlePerEndpoint)
            {
                connection.Reused = true;
                connection.IdleSince = Environment.TickCount64;
                stack.Push(connection);
                return;
            }
        }

        connection.Dispose();
    }

    public void Dispose()
    {
        List<Http2Connection> all;
        lock (idle)
        {
            disposed = true;
            all = idle.Values.SelectMany(s => s).ToList();
            idle.Clear();
        }

        sweeper.Dispose();
        foreach (var connection in all)
        {
            connection.Dispose();
        }
    }

    private static string Key(Uri node) => $"{node.Scheme}://{node.IdnHost}:{node.Port}";

    private Http2Connection? TryPop(string key)
    {
        lock (idle)
        {
            return idle.TryGetValue(key, out var stack) && stack.TryPop(out var connection) ? connection : null;
        }
    }

    private void Sweep()
    {
        var now = Environment.TickCount64;
        var expired = new List<Http2Connection>();
        lock (idle)
        {
            foreach (var stack in idle.Values)
            {
                if (stack.Count == 0)
                {
                    continue;
                }

                // Newest on top: keep the ones still fresh, in order.
                var keep = stack.Where(c => now - c.IdleSince <= settings.IdleTimeout.TotalMilliseconds).Reverse().ToList();
                expired.AddRange(stack.Where(c => now - c.IdleSince > settings.IdleTimeout.TotalMilliseconds));
                stack.Clear();
                foreach (var connection in keep)
                {
                    stack.Push(connection);
                }
            }
        }

        foreach (var connection in expired)
        {
            connection.Dispose();
        }
    }
}
