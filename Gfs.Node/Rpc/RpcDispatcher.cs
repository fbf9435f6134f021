using System.Buffers;
using Gfs.Client.Protocol;
using MessagePack;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Gfs.Node.Rpc;

/// <summary>
/// Runs one RPC: checks the content type, enforces size limits and the caller's deadline, parses
/// the MessagePack body with bounded work, calls the handler and writes the reply envelope. Every
/// failure becomes a typed error reply; nothing escapes as a bare 500 or a stack trace.
/// </summary>
internal sealed class RpcDispatcher(IOptions<RpcServerOptions> options, ILogger<RpcDispatcher> logger)
{
    private readonly RpcServerOptions options = options.Value;

    public async Task HandleUnaryAsync<TRequest, TResponse>(HttpContext http, string route, Func<TRequest, RpcContext, ValueTask<TResponse>> handler)
    {
        using var call = StartCall(http);
        try
        {
            var request = await ReadRequestAsync<TRequest>(http, call.Token).ConfigureAwait(false);
            var response = await handler(request, new RpcContext(http, route, call.Token)).ConfigureAwait(false);
            Begin(http, StatusCodes.Status200OK);
            Envelope.WriteReply(http.Response.BodyWriter, response);
            await http.Response.BodyWriter.FlushAsync(call.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await FailAsync(http, route, e, call).ConfigureAwait(false);
        }
    }

    public async Task HandleUploadAsync<TRequest, TResponse>(HttpContext http, string route, Func<TRequest, RpcUpload, RpcContext, ValueTask<TResponse>> handler)
    {
        using var call = StartCall(http);
        try
        {
            var (header, upload) = await ReadUploadPrefixAsync<TRequest>(http, call.Token).ConfigureAwait(false);
            var response = await handler(header, upload, new RpcContext(http, route, call.Token)).ConfigureAwait(false);
            Begin(http, StatusCodes.Status200OK);
            Envelope.WriteReply(http.Response.BodyWriter, response);
            await http.Response.BodyWriter.FlushAsync(call.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await FailAsync(http, route, e, call).ConfigureAwait(false);
        }
    }

    public async Task HandleDownloadAsync<TRequest, TResponse>(HttpContext http, string route, Func<TRequest, RpcContext, ValueTask<RpcDownloadReply<TResponse>>> handler)
    {
        using var call = StartCall(http);
        RpcDownloadReply<TResponse> reply;
        try
        {
            var request = await ReadRequestAsync<TRequest>(http, call.Token).ConfigureAwait(false);
            reply = await handler(request, new RpcContext(http, route, call.Token)).ConfigureAwait(false);
            Begin(http, StatusCodes.Status200OK);
            http.Response.DeclareTrailer(WireFormat.ErrorCodeTrailer);
            http.Response.DeclareTrailer(WireFormat.ErrorMessageTrailer);
            Envelope.WriteDownloadPrefix(http.Response.BodyWriter, reply.Header, reply.Length);
        }
        catch (Exception e)
        {
            await FailAsync(http, route, e, call).ConfigureAwait(false);
            return;
        }

        try
        {
            await reply.WriteBody(http.Response.BodyWriter, call.Token).ConfigureAwait(false);
            await http.Response.BodyWriter.FlushAsync(call.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (!http.RequestAborted.IsCancellationRequested)
        {
            // The status line and part of the data are gone: the reply ends short and the error
            // travels in the trailers, which the client reads when the data stops early.
            var (code, message) = Classify(route, http, e, call);
            Log.DownloadFailedMidStream(logger, route, Remote(http), code, message);
            http.Response.AppendTrailer(WireFormat.ErrorCodeTrailer, ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture));
            http.Response.AppendTrailer(WireFormat.ErrorMessageTrailer, Uri.EscapeDataString(message));
        }
        catch (OperationCanceledException)
        {
            // The caller went away; there is nobody to tell.
        }
    }

    public Task HandleUnknownRouteAsync(HttpContext http)
    {
        var message = $"no RPC at {http.Request.Method} {http.Request.Path}";
        Log.RpcRefused(logger, http.Request.Path.Value ?? "", Remote(http), ErrorCode.UnknownRoute, message);
        return WriteErrorAsync(http, ErrorCode.UnknownRoute, message, null, CancellationToken.None);
    }

    internal static int StatusFor(ErrorCode code) => code switch
    {
        ErrorCode.Ok => StatusCodes.Status200OK,
        ErrorCode.InvalidArgument or ErrorCode.MalformedMessage => StatusCodes.Status400BadRequest,
        ErrorCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        ErrorCode.PermissionDenied => StatusCodes.Status403Forbidden,
        ErrorCode.NotFound or ErrorCode.UnknownRoute => StatusCodes.Status404NotFound,
        ErrorCode.AlreadyExists or ErrorCode.Conflict or ErrorCode.StaleVersion or ErrorCode.DirectoryNotEmpty
            or ErrorCode.NotADirectory or ErrorCode.IsADirectory or ErrorCode.LeaseExpired or ErrorCode.FileReplaced => StatusCodes.Status409Conflict,
        ErrorCode.PayloadTooLarge => StatusCodes.Status413PayloadTooLarge,
        ErrorCode.UnsupportedMediaType => StatusCodes.Status415UnsupportedMediaType,
        ErrorCode.NotLeader => StatusCodes.Status421MisdirectedRequest,
        ErrorCode.QuotaExceeded or ErrorCode.NoSpace => StatusCodes.Status507InsufficientStorage,
        ErrorCode.Cancelled => 499,
        ErrorCode.Unavailable or ErrorCode.Busy => StatusCodes.Status503ServiceUnavailable,
        ErrorCode.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status500InternalServerError,
    };

    private static string Remote(HttpContext http)
        => http.Connection.RemoteIpAddress is { } ip ? $"{ip}:{http.Connection.RemotePort}" : "unknown";

    private static void Begin(HttpContext http, int status)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = WireFormat.ContentType;
    }

    private static async Task WriteErrorAsync(HttpContext http, ErrorCode code, string message, string? leaderUrl, CancellationToken cancellationToken)
    {
        if (http.Response.HasStarted)
        {
            http.Abort();
            return;
        }

        Begin(http, StatusFor(code));
        Envelope.WriteError(http.Response.BodyWriter, code, message, leaderUrl);
        await http.Response.BodyWriter.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private CallScope StartCall(HttpContext http)
    {
        var budget = options.DefaultDeadline;
        if (http.Request.Headers.TryGetValue(WireFormat.DeadlineHeader, out var header)
            && long.TryParse(header.ToString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms)
            && ms > 0)
        {
            budget = TimeSpan.FromMilliseconds(Math.Min(ms, (long)options.DefaultDeadline.TotalMilliseconds));
        }

        var deadline = new CancellationTokenSource(budget);
        var linked = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, deadline.Token);
        return new CallScope(deadline, linked);
    }

    private async Task FailAsync(HttpContext http, string route, Exception e, CallScope call)
    {
        if (http.RequestAborted.IsCancellationRequested)
        {
            return; // the caller is gone
        }

        var (code, message) = Classify(route, http, e, call);
        var leader = (e as GfsException)?.LeaderUrl;
        try
        {
            await WriteErrorAsync(http, code, message, leader, http.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The caller went away while we answered.
        }
    }

    private (ErrorCode Code, string Message) Classify(string route, HttpContext http, Exception e, CallScope call)
    {
        switch (e)
        {
            case GfsException typed:
                Log.RpcRefused(logger, route, Remote(http), typed.Code, typed.Message);
                return (typed.Code, typed.Message);
            case OperationCanceledException when call.DeadlinePassed:
                Log.RpcRefused(logger, route, Remote(http), ErrorCode.DeadlineExceeded, "deadline exceeded");
                return (ErrorCode.DeadlineExceeded, $"{route}: deadline exceeded");
            case MessagePackSerializationException:
                Log.RpcRefused(logger, route, Remote(http), ErrorCode.MalformedMessage, e.Message);
                return (ErrorCode.MalformedMessage, $"{route}: the request is not a valid message of this RPC");
            case BadHttpRequestException bad:
                var code = bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? ErrorCode.PayloadTooLarge : ErrorCode.MalformedMessage;
                Log.RpcRefused(logger, route, Remote(http), code, bad.Message);
                return (code, $"{route}: {bad.Message}");
            default:
                var incident = Guid.NewGuid().ToString("N")[..12];
                Log.RpcFailed(logger, e, route, Remote(http), incident);
                return (ErrorCode.Internal, $"{route}: internal error (incident {incident}; see the server log)");
        }
    }

    private void CheckContentType(HttpContext http)
    {
        var contentType = http.Request.ContentType;
        if (contentType is null
            || !MediaTypeHeaderValue.TryParse(contentType, out var parsed)
            || !parsed.MediaType.Equals(WireFormat.ContentType, StringComparison.OrdinalIgnoreCase))
        {
            throw new GfsException(ErrorCode.UnsupportedMediaType, $"content type must be {WireFormat.ContentType}, not '{contentType}'");
        }
    }

    private async Task<T> ReadRequestAsync<T>(HttpContext http, CancellationToken cancellationToken)
    {
        CheckContentType(http);
        var limit = options.MaxMessageBytes;
        if (http.Request.ContentLength > limit)
        {
            throw new GfsException(ErrorCode.PayloadTooLarge, $"request of {http.Request.ContentLength} bytes exceeds the {limit}-byte limit");
        }

        var reader = http.Request.BodyReader;
        while (true)
        {
            var read = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = read.Buffer;
            if (buffer.Length > limit)
            {
                reader.AdvanceTo(buffer.Start);
                throw new GfsException(ErrorCode.PayloadTooLarge, $"request exceeds the {limit}-byte limit");
            }

            if (!read.IsCompleted)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }

            try
            {
                return Parse<T>(buffer, "request");
            }
            finally
            {
                reader.AdvanceTo(buffer.End);
            }
        }
    }

    private static T Parse<T>(ReadOnlySequence<byte> body, string what)
    {
        if (body.IsEmpty)
        {
            throw new GfsException(ErrorCode.MalformedMessage, $"{what} body is empty");
        }

        // The body is complete, so a value declaring more bytes than the body holds is malformed
        // (its size is within the limit already checked).
        var status = MessagePackFraming.Measure(body, WireFormat.MaxDepth, body.Length, out var length);
        if (status is FramingStatus.TooLarge or FramingStatus.NeedMoreData)
        {
            throw new GfsException(ErrorCode.MalformedMessage, $"{what} is truncated or declares more data than it holds");
        }

        Envelope.ThrowIfFramingFailed(status, what);
        if (length != body.Length)
        {
            throw new GfsException(ErrorCode.MalformedMessage, $"{what} has {body.Length - length} bytes after its message");
        }

        return MessagePackSerializer.Deserialize<T>(body, WireFormat.Options);
    }

    private async Task<(T Header, RpcUpload Upload)> ReadUploadPrefixAsync<T>(HttpContext http, CancellationToken cancellationToken)
    {
        CheckContentType(http);
        var headerLimit = options.MaxUploadHeaderBytes;
        if (http.Request.ContentLength > headerLimit + options.MaxUploadBytes + WireFormat.Bin32HeaderLength + 1)
        {
            throw new GfsException(ErrorCode.PayloadTooLarge, $"upload of {http.Request.ContentLength} bytes exceeds the {options.MaxUploadBytes}-byte limit");
        }

        var reader = http.Request.BodyReader;
        while (true)
        {
            var read = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = read.Buffer;
            if (TryParseUploadPrefix(buffer, headerLimit, out T header, out var length, out var consumed))
            {
                if (length > options.MaxUploadBytes)
                {
                    reader.AdvanceTo(buffer.Start);
                    throw new GfsException(ErrorCode.PayloadTooLarge, $"upload of {length} bytes exceeds the {options.MaxUploadBytes}-byte limit");
                }

                reader.AdvanceTo(buffer.GetPosition(consumed));
                return (header, new RpcUpload(reader, length));
            }

            if (read.IsCompleted)
            {
                reader.AdvanceTo(buffer.End);
                throw new GfsException(ErrorCode.MalformedMessage, "upload ended inside its header");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static bool TryParseUploadPrefix<T>(ReadOnlySequence<byte> buffer, int headerLimit, out T header, out long length, out long consumed)
    {
        header = default!;
        length = 0;
        consumed = 0;
        if (buffer.IsEmpty)
        {
            return false;
        }

        if (buffer.FirstSpan[0] != 0x90 + WireFormat.UploadRequestElements)
        {
            throw new GfsException(ErrorCode.MalformedMessage, "an upload body must be [header, bin32 data]");
        }

        var status = MessagePackFraming.Measure(buffer.Slice(1), WireFormat.MaxDepth, headerLimit, out var headerLength);
        if (status == FramingStatus.NeedMoreData)
        {
            return false;
        }

        Envelope.ThrowIfFramingFailed(status, "upload header");
        var end = 1 + headerLength;
        if (buffer.Length < end + WireFormat.Bin32HeaderLength)
        {
            return false;
        }

        length = Envelope.ReadBin32Header(buffer.Slice(end, WireFormat.Bin32HeaderLength));
        header = MessagePackSerializer.Deserialize<T>(buffer.Slice(1, headerLength), WireFormat.Options);
        consumed = end + WireFormat.Bin32HeaderLength;
        return true;
    }

    private sealed class CallScope(CancellationTokenSource deadline, CancellationTokenSource linked) : IDisposable
    {
        public CancellationToken Token => linked.Token;

        public bool DeadlinePassed => deadline.IsCancellationRequested;

        public void Dispose()
        {
            linked.Dispose();
            deadline.Dispose();
        }
    }
}
