using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Gfs.Client.Protocol;
using Gfs.Client.Transport.Http2;

namespace Gfs.Client.Transport;

/// <summary>
/// Calls RPCs on Gfs nodes: MessagePack bodies over HTTP/2, with TLS (ALPN h2) for <c>https</c>
/// URLs and cleartext h2c for <c>http</c> URLs. Unary calls go through <see cref="HttpClient"/>;
/// uploads and downloads go through Gfs's own HTTP/2 data client, which sends and accepts large
/// frames and reads downloaded data straight into the caller's buffer (docs/protocol.md). One
/// instance shares one set of connection pools; it is safe for concurrent use and should live as
/// long as the application.
/// </summary>
public sealed class RpcClient : IDisposable
{
    private static readonly MediaTypeHeaderValue MessagePackType = new(WireFormat.ContentType);
    private readonly HttpClient http;
    private readonly Http2DataClient data;

    /// <summary>Creates a client with its own connection pool.</summary>
    public RpcClient(RpcClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            InitialHttp2StreamWindowSize = options.Http2StreamWindowBytes,
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(20),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                ApplicationProtocols = [SslApplicationProtocol.Http2],
                RemoteCertificateValidationCallback = options.TrustedRoots.Count > 0 ? ValidateAgainstTrustedRoots : null,
                ClientCertificates = options.ClientCertificate is { } cert ? [cert] : null,
            },
        };

        http = new HttpClient(handler)
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = Timeout.InfiniteTimeSpan,
        };

        data = new Http2DataClient(new Http2ClientSettings
        {
            ConnectTimeout = options.ConnectTimeout,
            StreamReceiveWindow = options.Http2StreamWindowBytes,
            MaxFrameSize = options.Http2MaxFrameBytes,
            ValidateCertificate = options.TrustedRoots.Count > 0 ? ValidateAgainstTrustedRoots : null,
            ClientCertificate = options.ClientCertificate,
        });
    }

    /// <summary>The settings this client was created with.</summary>
    public RpcClientOptions Options { get; }

    /// <summary>
    /// Calls a unary RPC: sends <paramref name="request"/> and returns the reply payload.
    /// </summary>
    /// <param name="node">Base URL of the node, <c>http://host:port</c> (h2c) or <c>https://host:port</c>.</param>
    /// <param name="route">The RPC route below <c>/rpc/</c>, for example <c>master/CreateFile</c>.</param>
    /// <param name="request">The request object.</param>
    /// <param name="timeout">The call's time budget; <see cref="RpcClientOptions.DefaultTimeout"/> when null. The server learns it too.</param>
    /// <param name="cancellationToken">Cancels the call; the server sees the cancellation.</param>
    /// <exception cref="GfsException">The server replied with an error, or the node could not be reached (<see cref="ErrorCode.Unavailable"/>), or the deadline passed.</exception>
    public async Task<TResponse> CallAsync<TRequest, TResponse>(Uri node, string route, TRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var budget = timeout ?? Options.DefaultTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(budget);
        using var message = CreateRequest(node, route, budget);
        var body = new ArrayBufferWriter<byte>(256);
        MessagePack.MessagePackSerializer.Serialize(body, request, WireFormat.Options, CancellationToken.None);
        message.Content = new ReadOnlyMemoryContent(body.WrittenMemory);
        message.Content.Headers.ContentType = MessagePackType;

        try
        {
            using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
            return await ReadUnaryReplyAsync<TResponse>(response, deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (MapFailure(e, node, route, cancellationToken) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <summary>
    /// Calls an upload RPC: sends <paramref name="header"/> followed by <paramref name="length"/> bytes
    /// that <paramref name="writeData"/> writes into the request stream as they become available.
    /// </summary>
    /// <param name="node">Base URL of the node.</param>
    /// <param name="route">The RPC route below <c>/rpc/</c>.</param>
    /// <param name="header">The request header object.</param>
    /// <param name="length">Exact number of bytes <paramref name="writeData"/> writes.</param>
    /// <param name="writeData">Writes the data; called once.</param>
    /// <param name="timeout">The call's time budget; <see cref="RpcClientOptions.DefaultStreamTimeout"/> when null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<TResponse> UploadAsync<TRequest, TResponse>(
        Uri node, string route, TRequest header, long length, Func<Stream, CancellationToken, ValueTask> writeData, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writeData);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return await UploadCoreAsync<TRequest, TResponse>(node, route, header, length, writeData, ReadOnlyMemory<byte>.Empty, timeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Calls an upload RPC whose data is already in memory. The bytes go to the connection straight
    /// from <paramref name="data"/>, without an intermediate copy (h2c); a request the server provably
    /// did not process (a pooled connection found closed) is sent again on a new connection.
    /// </summary>
    /// <param name="node">Base URL of the node.</param>
    /// <param name="route">The RPC route below <c>/rpc/</c>.</param>
    /// <param name="header">The request header object.</param>
    /// <param name="data">The data; it must not change until the call completes.</param>
    /// <param name="timeout">The call's time budget; <see cref="RpcClientOptions.DefaultStreamTimeout"/> when null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<TResponse> UploadAsync<TRequest, TResponse>(
        Uri node, string route, TRequest header, ReadOnlyMemory<byte> data, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => UploadCoreAsync<TRequest, TResponse>(node, route, header, data.Length, null, data, timeout, cancellationToken);

    /// <summary>
    /// Calls a download RPC. The returned object holds the reply header and a stream of the data;
    /// dispose it to release the connection stream. The stream throws <see cref="GfsException"/> if
    /// the server fails part-way (for example <see cref="ErrorCode.ChecksumMismatch"/>).
    /// </summary>
    /// <param name="node">Base URL of the node.</param>
    /// <param name="route">The RPC route below <c>/rpc/</c>.</param>
    /// <param name="request">The request object.</param>
    /// <param name="timeout">Budget for the whole transfer, reading included; <see cref="RpcClientOptions.DefaultStreamTimeout"/> when null.</param>
    /// <param name="cancellationToken">Cancels the call and the transfer.</param>
    public async Task<RpcDownload<TResponse>> DownloadAsync<TRequest, TResponse>(
        Uri node, string route, TRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var budget = timeout ?? Options.DefaultStreamTimeout;
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(budget);
        Http2Connection? connection = null;
        try
        {
            var body = new ArrayBufferWriter<byte>(256);
            MessagePack.MessagePackSerializer.Serialize(body, request, WireFormat.Options, CancellationToken.None);
            (connection, var head) = await data.ExchangeAsync(
                node, route, budget, body.WrittenCount, body.WrittenMemory, firstEndsStream: true, sendBody: null, replayable: true, deadline.Token).ConfigureAwait(false);
            ThrowIfNotMessagePack(head.Status, head.ContentType);

            // The envelope and the bin32 header come first; whatever data arrived with them is given back to the connection.
            var prefix = new ArrayBufferWriter<byte>(1024);
            while (true)
            {
                var n = await connection.ReadDataAsync(prefix.GetMemory(4096)[..4096], deadline.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new GfsException(ErrorCode.MalformedMessage, $"{route}: reply ended inside its envelope");
                }

                prefix.Advance(n);
                if (Envelope.TryReadDownloadPrefix<TResponse>(new ReadOnlySequence<byte>(prefix.WrittenMemory), Options.MaxReplyBytes, out var header, out var length, out var consumed))
                {
                    connection.Unread(prefix.WrittenSpan[(int)consumed..]);
                    return new RpcDownload<TResponse>(header, length, connection, data, deadline, node, route, Options.StreamBufferBytes);
                }

                if (prefix.WrittenCount > Options.MaxReplyBytes)
                {
                    throw new GfsException(ErrorCode.PayloadTooLarge, $"{route}: reply header is larger than {Options.MaxReplyBytes} bytes");
                }
            }
        }
        catch (Exception e)
        {
            if (connection is not null)
            {
                if (e is GfsException)
                {
                    // A typed error envelope: the stream ends right after it, and the connection is fine.
                    await data.FinishAsync(connection, node, deadline.Token).ConfigureAwait(false);
                }
                else
                {
                    connection.Abort();
                }
            }

            deadline.Dispose();
            if (MapFailure(e, node, route, cancellationToken) is { } mapped)
            {
                throw mapped;
            }

            throw;
        }
    }

    private async Task<TResponse> UploadCoreAsync<TRequest, TResponse>(
        Uri node, string route, TRequest header, long length, Func<Stream, CancellationToken, ValueTask>? writeData, ReadOnlyMemory<byte> bytes, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        var budget = timeout ?? Options.DefaultStreamTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(budget);
        var prefix = new ArrayBufferWriter<byte>(256);
        Envelope.WriteUploadPrefix(prefix, header, length);
        try
        {
            return await data.UploadAsync<TResponse>(node, route, budget, prefix.WrittenMemory, length, writeData, bytes, Options.MaxReplyBytes, deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (MapFailure(e, node, route, cancellationToken) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        http.Dispose();
        data.Dispose();
    }

    /// <summary>
    /// Turns transport-level failures into typed errors. Returns null for exceptions that should
    /// propagate unchanged (a typed error, or the caller's own cancellation).
    /// </summary>
    internal static Exception? MapFailure(Exception e, Uri node, string route, CancellationToken callerToken)
    {
        switch (e)
        {
            case GfsException:
                return null;
            case OperationCanceledException when callerToken.IsCancellationRequested:
                return null;
            case OperationCanceledException:
                return new GfsException(ErrorCode.DeadlineExceeded, $"{route} on {node}: deadline exceeded", e);
            case HttpRequestException or IOException or HttpProtocolException:
                return new GfsException(ErrorCode.Unavailable, $"{route} on {node}: {e.Message}", e);
            default:
                return null;
        }
    }

    private static HttpRequestMessage CreateRequest(Uri node, string route, TimeSpan budget)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, new Uri(node, WireFormat.RoutePrefix + route))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        message.Headers.TryAddWithoutValidation(WireFormat.DeadlineHeader, ((long)Math.Ceiling(budget.TotalMilliseconds)).ToString(System.Globalization.CultureInfo.InvariantCulture));
        return message;
    }

    private async Task<T> ReadUnaryReplyAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        ThrowIfNotMessagePack(response);
        var declared = response.Content.Headers.ContentLength;
        if (declared > Options.MaxReplyBytes)
        {
            throw new GfsException(ErrorCode.PayloadTooLarge, $"reply of {declared} bytes exceeds the {Options.MaxReplyBytes}-byte limit");
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new ArrayBufferWriter<byte>((int)(declared ?? 4096) + 1);
            while (true)
            {
                var memory = buffer.GetMemory(16 * 1024);
                var n = await stream.ReadAsync(memory, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                buffer.Advance(n);
                if (buffer.WrittenCount > Options.MaxReplyBytes)
                {
                    throw new GfsException(ErrorCode.PayloadTooLarge, $"reply exceeds the {Options.MaxReplyBytes}-byte limit");
                }
            }

            return DecodeUnaryReply<T>(new ReadOnlySequence<byte>(buffer.WrittenMemory), Options.MaxReplyBytes);
        }
    }

    /// <summary>Checks a whole unary reply's framing with bounded work, then decodes it (a typed error envelope throws).</summary>
    internal static T DecodeUnaryReply<T>(ReadOnlySequence<byte> body, int maxReplyBytes)
    {
        var status = MessagePackFraming.Measure(body, WireFormat.MaxDepth, maxReplyBytes, out _);
        Envelope.ThrowIfFramingFailed(status, "reply");
        return Envelope.ReadReply<T>(body);
    }

    /// <summary>A reply that is not MessagePack came from something other than a Gfs handler (a proxy, or the HTTP layer itself).</summary>
    private static void ThrowIfNotMessagePack(HttpResponseMessage response)
        => ThrowIfNotMessagePack((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType);

    /// <summary>A reply that is not MessagePack came from something other than a Gfs handler: its HTTP status is mapped to the nearest code.</summary>
    internal static void ThrowIfNotMessagePack(int status, string? contentType)
    {
        var semicolon = contentType?.IndexOf(';', StringComparison.Ordinal) ?? -1;
        var mediaType = semicolon >= 0 ? contentType![..semicolon].Trim() : contentType;
        if (string.Equals(mediaType, WireFormat.ContentType, StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        var code = (HttpStatusCode)status switch
        {
            HttpStatusCode.NotFound => ErrorCode.UnknownRoute,
            HttpStatusCode.RequestEntityTooLarge => ErrorCode.PayloadTooLarge,
            HttpStatusCode.UnsupportedMediaType => ErrorCode.UnsupportedMediaType,
            HttpStatusCode.BadRequest => ErrorCode.MalformedMessage,
            HttpStatusCode.Unauthorized => ErrorCode.Unauthenticated,
            HttpStatusCode.Forbidden => ErrorCode.PermissionDenied,
            HttpStatusCode.RequestTimeout or HttpStatusCode.GatewayTimeout => ErrorCode.DeadlineExceeded,
            HttpStatusCode.ServiceUnavailable or HttpStatusCode.BadGateway => ErrorCode.Unavailable,
            _ => ErrorCode.Internal,
        };
        throw new GfsException(code, $"HTTP {status} {(HttpStatusCode)status} without a Gfs reply envelope");
    }

    private bool ValidateAgainstTrustedRoots(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        custom.ChainPolicy.CustomTrustStore.AddRange(Options.TrustedRoots);
        if (chain is not null)
        {
            foreach (var element in chain.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return custom.Build(leaf);
    }
}
