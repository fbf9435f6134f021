using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;

namespace Gfs.Client.Transport.Http2;

/// <summary>
/// One HTTP/2 connection of the data client (h2c over a socket, or TLS with ALPN h2) carrying at
/// most one stream at a time. Nothing reads the connection in the background: the call that owns
/// the connection reads frames when it needs something (response headers, data, or send window),
/// handling control frames on the way. That is what lets a download receive DATA payload straight
/// into the caller's buffer, and it needs no locks: one call owns the connection at a time.
/// </summary>
/// <remarks>
/// Any failure, cancellation or protocol violation marks the connection broken; a broken
/// connection is closed, never pooled again.
/// </remarks>
internal sealed partial class Http2Connection : IDisposable
{
    private const int DefaultWindow = 65535;

    private readonly Socket socket;
    private readonly SslStream? ssl;
    private readonly Http2ClientSettings settings;
    private readonly HpackDecoder decoder;
    private readonly byte[] frameHeader = new byte[FrameHeader.Size];
    private readonly byte[] dataFrameHeader = new byte[FrameHeader.Size];
    private readonly byte[] control = new byte[64];
    private readonly ArraySegment<byte>[] gather = new ArraySegment<byte>[2];

    // What the server allows us.
    private int peerMaxFrameSize = FrameHeader.MinMaxFrameSize;
    private int peerInitialWindow = DefaultWindow;
    private long peerMaxConcurrentStreams = uint.MaxValue;
    private long connectionSendWindow = DefaultWindow;

    // What we allow the server.
    private long connectionReceiveWindow = DefaultWindow;
    private int connectionUnacked;

    private int lastStreamId;
    private int disposed;
    private int? goAwayLastStreamId;
    private Http2ErrorCode goAwayCode;

    private Http2Connection(Socket socket, SslStream? ssl, Http2ClientSettings settings, string endpoint)
    {
        this.socket = socket;
        this.ssl = ssl;
        this.settings = settings;
        Endpoint = endpoint;
        decoder = new HpackDecoder(maxHeaderListBytes: settings.MaxHeaderListBytes);
    }

    /// <summary>scheme://host:port, for messages.</summary>
    public string Endpoint { get; }

    /// <summary>True once the connection came back from the pool at least once (it may have gone stale).</summary>
    public bool Reused { get; set; }

    /// <summary>When it was last returned to the pool (<see cref="Environment.TickCount64"/>).</summary>
    public long IdleSince { get; set; }

    /// <summary>The connection failed, was cancelled, broke the protocol, or the server is going away.</summary>
    public bool IsBroken { get; private set; }

    /// <summary>The largest DATA payload we may send.</summary>
    public int PeerMaxFrameSize => peerMaxFrameSize;

    /// <summary>Opens a connection to <paramref name="node"/> and exchanges the preface and SETTINGS.</summary>
    public static async Task<Http2Connection> ConnectAsync(Uri node, Http2ClientSettings settings, CancellationToken cancellationToken)
    {
        var endpoint = $"{node.Scheme}://{node.Authority}";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(settings.ConnectTimeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        SslStream? ssl = null;
        Http2Connection? connection = null;
        try
        {
            await socket.ConnectAsync(node.DnsSafeHost, node.Port, timeout.Token).ConfigureAwait(false);
            if (node.Scheme == Uri.UriSchemeHttps)
            {
                ssl = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
                var options = new SslClientAuthenticationOptions
                {
                    TargetHost = node.DnsSafeHost,
                    ApplicationProtocols = [SslApplicationProtocol.Http2],
                    RemoteCertificateValidationCallback = settings.ValidateCertificate,
                    ClientCertificates = settings.ClientCertificate is { } certificate ? [certificate] : null,
                };
                await ssl.AuthenticateAsClientAsync(options, timeout.Token).ConfigureAwait(false);
                if (ssl.NegotiatedApplicationProtocol != SslApplicationProtocol.Http2)
                {
                    throw new Http2ConnectionException($"{endpoint} did not negotiate HTTP/2 (ALPN h2)", notProcessed: true);
                }
            }

            connection = new Http2Connection(socket, ssl, settings, endpoint);
            await connection.StartAsync(timeout.Token).ConfigureAwait(false);
            return connection;
        }
        catch (Exception e)
        {
            connection?.Dispose();
            ssl?.Dispose();
            socket.Dispose();
            throw e switch
            {
                OperationCanceledException when cancellationToken.IsCancellationRequested => e,
                OperationCanceledException => new Http2ConnectionException($"connecting to {endpoint} timed out after {settings.ConnectTimeout.TotalSeconds:0.###} s", notProcessed: true, e),
                SocketException socketError => new Http2ConnectionException($"cannot connect to {endpoint}: {socketError.Message}", notProcessed: true, e),
                AuthenticationException => new Http2ConnectionException($"TLS handshake with {endpoint} failed: {e.Message}", notProcessed: true, e),
                Http2ConnectionException => e,
                IOException => new Http2ConnectionException($"connecting to {endpoint} failed: {e.Message}", notProcessed: true, e),
                _ => e,
            };
        }
    }

    /// <summary>
    /// Checks a pooled connection before reuse: handles what the server sent while it was idle
    /// (SETTINGS, PING, WINDOW_UPDATE, GOAWAY) and reports false when the server closed or is
    /// closing it. Nothing of a request has been sent yet, so a false answer costs nothing.
    /// </summary>
    public async ValueTask<bool> CheckIdleAsync(CancellationToken cancellationToken)
    {
        if (IsBroken)
        {
            return false;
        }

        try
        {
            if (!socket.Poll(0, SelectMode.SelectRead))
            {
                return true;
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(1));
            while (!IsBroken && socket.Poll(0, SelectMode.SelectRead))
            {
                if (socket.Available == 0)
                {
                    return false; // end of stream or reset
                }

                await ProcessFrameAsync(timeout.Token).ConfigureAwait(false);
            }

            return !IsBroken;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            IsBroken = true;
            return false;
        }
    }

    /// <summary>
    /// Ends the use of the connection by a call that failed or gave up: resets the open stream
    /// (RST_STREAM CANCEL, best effort, so that the server's handler sees the cancellation at once)
    /// and closes the connection.
    /// </summary>
    public void Abort()
    {
        if (Volatile.Read(ref disposed) == 0 && activeStream != 0 && !(localEnded && remoteEnded))
        {
            try
            {
                Span<byte> frame = stackalloc byte[FrameHeader.Size + 4];
                FrameHeader.Write(frame, 4, FrameType.RstStream, FrameFlags.None, activeStream);
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame[FrameHeader.Size..], (uint)Http2ErrorCode.Cancel);
                socket.SendTimeout = 1000;
                if (ssl is null)
                {
                    socket.Send(frame, SocketFlags.None, out _);
                }
                else
                {
                    ssl.Write(frame);
                }
            }
            catch (Exception)
            {
                // Best effort: closing the connection cancels the stream too.
            }
        }

        Dispose();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        IsBroken = true;
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception)
        {
            // Already closed by the peer.
        }

        ssl?.Dispose();
        socket.Dispose();
    }

    /// <summary>Sends the preface, our SETTINGS and the connection window raise, then waits for the server's SETTINGS.</summary>
    private async ValueTask StartAsync(CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;
        var buffer = new byte[preface.Length + FrameHeader.Size + (4 * 6) + FrameHeader.Size + 4];
        preface.CopyTo(buffer);
        var at = preface.Length;
        FrameHeader.Write(buffer.AsSpan(at), 4 * 6, FrameType.Settings, FrameFlags.None, 0);
        at += FrameHeader.Size;
        at = WriteSetting(buffer, at, SettingId.EnablePush, 0);
        at = WriteSetting(buffer, at, SettingId.HeaderTableSize, 0);
        at = WriteSetting(buffer, at, SettingId.InitialWindowSize, (uint)settings.StreamReceiveWindow);
        at = WriteSetting(buffer, at, SettingId.MaxFrameSize, (uint)settings.MaxFrameSize);
        var raise = Http2ClientSettings.ConnectionReceiveWindow - DefaultWindow;
        WriteWindowUpdate(buffer.AsSpan(at), 0, raise);
        connectionReceiveWindow += raise;
        await SendAsync(buffer, cancellationToken).ConfigureAwait(false);

        // The server's connection preface is a SETTINGS frame (RFC 9113 §3.4).
        var header = await ReadFrameHeaderAsync(cancellationToken).ConfigureAwait(false);
        if (header.Type != FrameType.Settings || header.HasFlag(FrameFlags.Ack))
        {
            throw ProtocolError($"the server's preface starts with {header.Type}, not SETTINGS");
        }

        await HandleSettingsAsync(header, cancellationToken).ConfigureAwait(false);

        static int WriteSetting(byte[] buffer, int at, SettingId id, uint value)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(at), (ushort)id);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(at + 2), value);
            return at + 6;
        }
    }

    private Http2ConnectionException ProtocolError(string what)
    {
        IsBroken = true;
        return new Http2ConnectionException($"HTTP/2 protocol error from {Endpoint}: {what}");
    }
}
