using System.Buffers;
using System.Globalization;
using Gfs.Client.Protocol;

namespace Gfs.Client.Transport.Http2;

/// <summary>
/// The HTTP/2 client of the two bulk RPC kinds, uploads and downloads: one request per checked-out
/// connection, large frames both ways, and downloads read straight into the caller's buffer.
/// </summary>
internal sealed class Http2DataClient(Http2ClientSettings settings) : IDisposable
{
    /// <summary>How long a finished call waits for the rest of its stream (END_STREAM, trailers) before closing the connection instead.</summary>
    private static readonly TimeSpan FinishTimeout = TimeSpan.FromSeconds(2);

    private readonly Http2ConnectionPool pool = new(settings);

    public Http2ConnectionPool Pool => pool;

    /// <summary>
    /// Sends a request and waits for the response's HEADERS. <paramref name="first"/> goes out with
    /// the HEADERS; <paramref name="sendBody"/>, when given, sends the rest of the body. A request
    /// the server did not process (a pooled connection found closed, GOAWAY below its stream,
    /// REFUSED_STREAM) is sent once more on a new connection when it can be replayed: when
    /// <paramref name="replayable"/>, or before the body callback started.
    /// </summary>
    public async Task<(Http2Connection Connection, ResponseHead Head)> ExchangeAsync(
        Uri node,
        string route,
        TimeSpan budget,
        long contentLength,
        ReadOnlyMemory<byte> first,
        bool firstEndsStream,
        Func<Http2Connection, CancellationToken, ValueTask>? sendBody,
        bool replayable,
        CancellationToken cancellationToken)
    {
        var block = new ArrayBufferWriter<byte>(256);
        var path = new Uri(node, WireFormat.RoutePrefix + route).PathAndQuery;
        var timeoutMs = ((long)Math.Ceiling(budget.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);
        HpackEncoder.WriteRequest(block, node.Scheme == Uri.UriSchemeHttps, node.Authority, path, WireFormat.ContentType, contentLength, WireFormat.DeadlineHeader, timeoutMs);
        for (var attempt = 0; ; attempt++)
        {
            var connection = await pool.RentAsync(node, fresh: attempt > 0, cancellationToken).ConfigureAwait(false);
            var bodyStarted = false;
            try
            {
                connection.BeginStream();
                await connection.SendHeadersAsync(block.WrittenMemory, first, firstEndsStream, cancellationToken).ConfigureAwait(false);
                if (sendBody is not null)
                {
                    bodyStarted = true;
                    await sendBody(connection, cancellationToken).ConfigureAwait(false);
                }

                var head = await connection.ReadResponseHeadAsync(cancellationToken).ConfigureAwait(false);
                return (connection, head);
            }
            catch (Http2ConnectionException e) when (attempt == 0 && e.NotProcessed && (replayable || !bodyStarted))
            {
                connection.Dispose();
            }
            catch
            {
                connection.Abort();
                throw;
            }
        }
    }

    /// <summary>An upload: <c>[header, bin32 data]</c> with the data from <paramref name="writeData"/> or <paramref name="data"/>; returns the unary reply.</summary>
    public async Task<T> UploadAsync<T>(
        Uri node,
        string route,
        TimeSpan budget,
        ReadOnlyMemory<byte> prefix,
        long length,
        Func<Stream, CancellationToken, ValueTask>? writeData,
        ReadOnlyMemory<byte> data,
        int maxReplyBytes,
        CancellationToken cancellationToken)
    {
        Func<Http2Connection, CancellationToken, ValueTask>? sendBody;
        if (writeData is not null)
        {
            sendBody = async (connection, ct) =>
            {
                var stream = new Http2UploadStream(connection, length, ct);
                await writeData(stream, ct).ConfigureAwait(false);
                await stream.FinishAsync(ct).ConfigureAwait(false);
            };
        }
        else
        {
            sendBody = data.IsEmpty ? null : (connection, ct) => connection.SendDataAsync(data, endStream: true, ct);
        }

        var (connection, head) = await ExchangeAsync(
            node, route, budget, prefix.Length + length, prefix, firstEndsStream: sendBody is null, sendBody, replayable: writeData is null, cancellationToken).ConfigureAwait(false);
        var body = await ReadBodyAsync(connection, node, head, maxReplyBytes, cancellationToken).ConfigureAwait(false);
        return RpcClient.DecodeUnaryReply<T>(body, maxReplyBytes);
    }

    /// <summary>Reads a whole (small) reply body, then gives the connection back.</summary>
    public async Task<ReadOnlySequence<byte>> ReadBodyAsync(Http2Connection connection, Uri node, ResponseHead head, int maxBytes, CancellationToken cancellationToken)
    {
        try
        {
            RpcClient.ThrowIfNotMessagePack(head.Status, head.ContentType);
            if (head.ContentLength > maxBytes)
            {
                throw new GfsException(ErrorCode.PayloadTooLarge, $"reply of {head.ContentLength} bytes exceeds the {maxBytes}-byte limit");
            }

            var buffer = new ArrayBufferWriter<byte>((int)(head.ContentLength ?? 4096) + 1);
            while (true)
            {
                var n = await connection.ReadDataAsync(buffer.GetMemory(16 * 1024), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                buffer.Advance(n);
                if (buffer.WrittenCount > maxBytes)
                {
                    throw new GfsException(ErrorCode.PayloadTooLarge, $"reply exceeds the {maxBytes}-byte limit");
                }
            }

            pool.Return(connection, node);
            return new ReadOnlySequence<byte>(buffer.WrittenMemory);
        }
        catch
        {
            connection.Abort();
            throw;
        }
    }

    /// <summary>
    /// Reads what is left of a stream whose caller is done with it (its END_STREAM, trailers, a
    /// few stray bytes) so that the connection can be pooled; closes it instead when more than a
    /// little is left or the end does not come in time.
    /// </summary>
    public async ValueTask FinishAsync(Http2Connection connection, Uri node, CancellationToken cancellationToken)
    {
        var scratch = ArrayPool<byte>.Shared.Rent(16 * 1024);
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(FinishTimeout);
        cancellationToken = bounded.Token;
        try
        {
            var left = 64 * 1024;
            while (left > 0)
            {
                var n = await connection.ReadDataAsync(scratch, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    pool.Return(connection, node);
                    return;
                }

                left -= n;
            }

            connection.Abort();
        }
        catch (Exception)
        {
            connection.Abort();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    public void Dispose() => pool.Dispose();
}
