using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace Gfs.Node.Rpc;

/// <summary>
/// What a handler knows about the call besides its request: who is calling, from where, and the
/// token that fires when the caller cancels, disconnects or runs out of time.
/// </summary>
public sealed class RpcContext
{
    internal RpcContext(HttpContext http, string route, CancellationToken cancellationToken)
    {
        Http = http;
        Route = route;
        CancellationToken = cancellationToken;
    }

    /// <summary>The underlying HTTP context.</summary>
    public HttpContext Http { get; }

    /// <summary>The RPC route, for example <c>master/CreateFile</c>.</summary>
    public string Route { get; }

    /// <summary>Fires when the caller cancels, the connection drops or the caller's deadline passes.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The authenticated caller; anonymous until the authentication layer sets it.</summary>
    public ClaimsPrincipal User => Http.User;

    /// <summary>The caller's address.</summary>
    public string Remote => Http.Connection.RemoteIpAddress is { } ip ? $"{ip}:{Http.Connection.RemotePort}" : "unknown";
}
