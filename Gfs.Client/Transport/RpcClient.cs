using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Gfs.Client.Protocol;

namespace Gfs.Client.Transport;

/// <summary>
/// Calls RPCs on Gfs nodes: MessagePack bodies over HTTP/2, with TLS (ALPN h2) for <c>https</c>
/// URLs and cleartext h2c for <c>http</c> URLs. One instance shares one connection pool; it is safe
/// for concurrent use and should live as long as the application.
/// </summary>
public sealed class RpcClient : IDisposable
{
    private static readonly MediaTypeHeaderValue MessagePackType = new(WireFormat.ContentType);
    private readonly HttpClient http;

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
        var budget = timeout ?? Options.DefaultStreamTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(budget);
        using var message = CreateRequest(node, route, budget);
        message.Content = new UploadContent<TRequest>(header, length, writeData, MessagePackType);

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

    /// <summary>Calls an upload RPC whose data is already in memory.</summary>
    public Task<TResponse> UploadAsync<TRequest, TResponse>(
        Uri node, string route, TRequest header, ReadOnlyMemory<byte> data, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => UploadAsync<TRequest, TResponse>(node, route, header, data.Length, (stream, ct) => stream.WriteAsync(data, ct), timeout, cancellationToken);

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
        HttpResponseMessage? response = null;
        PipeReader? reader = null;
        try
        {
            using var message = CreateRequest(node, route, budget);
            var body = new ArrayBufferWriter<byte>(256);
            MessagePack.MessagePackSerializer.Serialize(body, request, WireFormat.Options, CancellationToken.None);
            message.Content = new ReadOnlyMemoryContent(body.WrittenMemory);
            message.Content.Headers.ContentType = MessagePackType;

            response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
            ThrowIfNotMessagePack(response);
            var stream = await response.Content.ReadAsStreamAsync(deadline.Token).ConfigureAwait(false);
            reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: Options.StreamBufferBytes, minimumReadSize: Options.StreamBufferBytes / 4));
            while (true)
            {
                var read = await reader.ReadAsync(deadline.Token).ConfigureAwait(false);
                if (Envelope.TryReadDownloadPrefix<TResponse>(read.Buffer, Options.MaxReplyBytes, out var header, out var length, out var consumed))
                {
                    reader.AdvanceTo(read.Buffer.GetPosition(consumed));
                    return new RpcDownload<TResponse>(header, length, reader, response, deadline, node, route);
                }

                if (read.IsCompleted)
                {
                    throw new GfsException(ErrorCode.MalformedMessage, $"{route}: reply ended inside its envelope");
                }

                if (read.Buffer.Length > Options.MaxReplyBytes)
                {
                    throw new GfsException(ErrorCode.PayloadTooLarge, $"{route}: reply header is larger than {Options.MaxReplyBytes} bytes");
                }

                reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
            }
        }
        catch (Exception e)
        {
            if (reader is not null)
            {
                await reader.CompleteAsync().ConfigureAwait(false);
            }

            response?.Dispose();
            deadline.Dispose();
            if (MapFailure(e, node, route, cancellationToken) is { } mapped)
            {
                throw mapped;
            }

            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose() => http.Dispose();

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

            var sequence = new ReadOnlySequence<byte>(buffer.WrittenMemory);
            var status = MessagePackFraming.Measure(sequence, WireFormat.MaxDepth, Options.MaxReplyBytes, out _);
            Envelope.ThrowIfFramingFailed(status, "reply");
            return Envelope.ReadReply<T>(sequence);
        }
    }

    /// <summary>A reply that is not MessagePack came from something other than a Gfs handler (a proxy, or the HTTP layer itself).</summary>
    private static void ThrowIfNotMessagePack(HttpResponseMessage response)
    {
        if (response.Content.Headers.ContentType?.MediaType == WireFormat.ContentType)
        {
            return;
        }

        var code = response.StatusCode switch
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
        throw new GfsException(code, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase} without a Gfs reply envelope");
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
