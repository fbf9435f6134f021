using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Gfs.Client.Protocol;
using Gfs.Client.Transport.Http2;

namespace Gfs.Client.Tests.Transport.Http2;

/// <summary>
/// A raw-socket HTTP/2 "server" on loopback that runs a script per connection, for behaviour a
/// real server never shows: oversize frames, unknown frame types, PINGs, GOAWAY, garbage.
/// </summary>
internal sealed class FakeHttp2Server : IAsyncDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly Func<FakeConnection, int, Task> script;
    private readonly CancellationTokenSource stop = new();
    private readonly Task accepting;
    private readonly List<Task> connections = [];
    private int accepted;

    public FakeHttp2Server(Func<FakeConnection, int, Task> script)
    {
        this.script = script;
        listener.Start();
        Url = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}");
        accepting = AcceptAsync();
    }

    public Uri Url { get; }

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref accepted);

    /// <summary>Failures of the scripts (assertions made on the server side).</summary>
    public List<Exception> Errors { get; } = [];

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        listener.Stop();
        try
        {
            await accepting;
        }
        catch (Exception)
        {
            // stopped
        }

        Task[] running;
        lock (connections)
        {
            running = [.. connections];
        }

        await Task.WhenAll(running.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
        stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            var socket = await listener.AcceptSocketAsync(stop.Token);
            var index = Interlocked.Increment(ref accepted) - 1;
            var task = Task.Run(async () =>
            {
                using var connection = new FakeConnection(socket, stop.Token);
                try
                {
                    await script(connection, index);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    lock (Errors)
                    {
                        Errors.Add(e);
                    }
                }
            });
            lock (connections)
            {
                connections.Add(task);
            }
        }
    }
}

/// <summary>One accepted connection of the fake server, with frame-level helpers.</summary>
internal sealed class FakeConnection(Socket socket, CancellationToken stop) : IDisposable
{
    public const int PrefaceLength = 24;

    public Socket Socket => socket;

    /// <summary>Reads the client preface, sends our SETTINGS (plus <paramref name="settings"/>).</summary>
    public async Task HandshakeAsync(params (SettingId Id, uint Value)[] settings)
    {
        var preface = new byte[PrefaceLength];
        await ReadExactAsync(preface);
        Assert.Equal("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray(), preface);
        var payload = new byte[settings.Length * 6];
        for (var i = 0; i < settings.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(i * 6), (ushort)settings[i].Id);
            BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan((i * 6) + 2), settings[i].Value);
        }

        await SendFrameAsync(FrameType.Settings, 0, 0, payload);
        await SendFrameAsync(FrameType.WindowUpdate, 0, 0, WindowIncrement(64 << 20));
    }

    /// <summary>Reads frames until a request stream ends; returns its id and the DATA it carried. Control frames are collected.</summary>
    public async Task<(int StreamId, byte[] Body, List<(FrameHeader Header, byte[] Payload)> Others)> ReadRequestAsync()
    {
        var body = new ArrayBufferWriter<byte>();
        var others = new List<(FrameHeader, byte[])>();
        while (true)
        {
            var (header, payload) = await ReadFrameAsync();
            if (header.Type == FrameType.Data)
            {
                body.Write(payload);
            }
            else if (header.Type != FrameType.Headers)
            {
                others.Add((header, payload));
            }

            if (header.StreamId != 0 && header.HasFlag(FrameFlags.EndStream) && header.Type is FrameType.Data or FrameType.Headers)
            {
                return (header.StreamId, body.WrittenSpan.ToArray(), others);
            }
        }
    }

    public async Task<(FrameHeader Header, byte[] Payload)> ReadFrameAsync()
    {
        var headerBytes = new byte[FrameHeader.Size];
        await ReadExactAsync(headerBytes);
        var header = FrameHeader.Read(headerBytes);
        var payload = new byte[header.Length];
        await ReadExactAsync(payload);
        return (header, payload);
    }

    /// <summary>Sends a 200 download reply: HEADERS, then the envelope and <paramref name="data"/> in one DATA frame that ends the stream.</summary>
    public async Task SendDownloadReplyAsync(int streamId, byte[] data)
    {
        var body = new ArrayBufferWriter<byte>();
        Envelope.WriteDownloadPrefix(body, 7L, data.Length);
        body.Write(data);
        await SendHeadersAsync(streamId, endStream: false);
        await SendFrameAsync(FrameType.Data, FrameFlags.EndStream, streamId, body.WrittenSpan.ToArray());
    }

    public async Task SendHeadersAsync(int streamId, bool endStream)
    {
        var block = new ArrayBufferWriter<byte>();
        HpackEncoder.WriteIndexed(block, 8); // :status 200
        HpackEncoder.WriteLiteral(block, HpackStaticTable.ContentType, WireFormat.ContentType);
        await SendFrameAsync(FrameType.Headers, (byte)(FrameFlags.EndHeaders | (endStream ? FrameFlags.EndStream : 0)), streamId, block.WrittenSpan.ToArray());
    }

    public Task SendFrameAsync(FrameType type, byte flags, int streamId, byte[] payload)
    {
        var frame = new byte[FrameHeader.Size + payload.Length];
        FrameHeader.Write(frame, payload.Length, type, flags, streamId);
        payload.CopyTo(frame, FrameHeader.Size);
        return SendRawAsync(frame);
    }

    public async Task SendRawAsync(byte[] bytes) => await socket.SendAsync(bytes, SocketFlags.None, stop);

    /// <summary>True when the client closed the connection (read returns 0 or fails), waiting at most <paramref name="timeout"/>.</summary>
    public async Task<bool> ClientClosedAsync(TimeSpan timeout)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(stop);
        wait.CancelAfter(timeout);
        var scratch = new byte[64 * 1024];
        try
        {
            while (true)
            {
                if (await socket.ReceiveAsync(scratch, SocketFlags.None, wait.Token) == 0)
                {
                    return true;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    public static byte[] WindowIncrement(int increment)
    {
        var payload = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(payload, increment);
        return payload;
    }

    public void Dispose() => socket.Dispose();

    private async Task ReadExactAsync(Memory<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, stop);
            if (n == 0)
            {
                throw new EndOfStreamException("the client closed the connection");
            }

            buffer = buffer[n..];
        }
    }
}
