using System.Net;
using System.Net.Sockets;

namespace Gfs.Consensus.Tests;

/// <summary>
/// A peer that accepts connections and never answers, like a SIGSTOPped process whose kernel still
/// completes TCP handshakes.
/// </summary>
internal sealed class BlackHole : IDisposable
{
    private readonly TcpListener listener;
    private readonly List<Socket> held = [];
    private readonly CancellationTokenSource stop = new();

    public BlackHole(int port)
    {
        listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        _ = AcceptAsync();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var socket = await listener.AcceptSocketAsync(stop.Token);
                lock (held)
                {
                    held.Add(socket);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }
    }

    public void Dispose()
    {
        stop.Cancel();
        listener.Stop();
        lock (held)
        {
            held.ForEach(s => s.Dispose());
        }

        stop.Dispose();
    }
}
