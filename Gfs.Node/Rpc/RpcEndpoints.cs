using Gfs.Client.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Gfs.Node.Rpc;

/// <summary>
/// Maps RPC handlers to routes <c>POST /rpc/{route}</c>. A handler gets the parsed request and an
/// <see cref="RpcContext"/>; it answers with a reply object or throws <see cref="GfsException"/>
/// for a typed error.
/// </summary>
public static class RpcEndpoints
{
    /// <summary>Maps a unary RPC: one MessagePack request, one reply.</summary>
    public static IEndpointConventionBuilder MapRpc<TRequest, TResponse>(
        this IEndpointRouteBuilder endpoints, string route, Func<TRequest, RpcContext, ValueTask<TResponse>> handler)
    {
        var dispatcher = endpoints.ServiceProvider.GetRequiredService<RpcDispatcher>();
        return endpoints.MapPost(WireFormat.RoutePrefix + route, http => dispatcher.HandleUnaryAsync(http, route, handler));
    }

    /// <summary>Maps an upload RPC: a request header followed by streamed bytes, one reply.</summary>
    public static IEndpointConventionBuilder MapUploadRpc<TRequest, TResponse>(
        this IEndpointRouteBuilder endpoints, string route, Func<TRequest, RpcUpload, RpcContext, ValueTask<TResponse>> handler)
    {
        var dispatcher = endpoints.ServiceProvider.GetRequiredService<RpcDispatcher>();
        return endpoints.MapPost(WireFormat.RoutePrefix + route, http => dispatcher.HandleUploadAsync(http, route, handler));
    }

    /// <summary>Maps a download RPC: one request, a reply header followed by streamed bytes.</summary>
    public static IEndpointConventionBuilder MapDownloadRpc<TRequest, TResponse>(
        this IEndpointRouteBuilder endpoints, string route, Func<TRequest, RpcContext, ValueTask<RpcDownloadReply<TResponse>>> handler)
    {
        var dispatcher = endpoints.ServiceProvider.GetRequiredService<RpcDispatcher>();
        return endpoints.MapPost(WireFormat.RoutePrefix + route, http => dispatcher.HandleDownloadAsync(http, route, handler));
    }

    /// <summary>Answers every request below <c>/rpc/</c> that matches no RPC with a typed <see cref="ErrorCode.UnknownRoute"/>.</summary>
    public static IEndpointConventionBuilder MapRpcFallback(this IEndpointRouteBuilder endpoints)
    {
        var dispatcher = endpoints.ServiceProvider.GetRequiredService<RpcDispatcher>();
        return endpoints.MapFallback(WireFormat.RoutePrefix + "{**rest}", dispatcher.HandleUnknownRouteAsync);
    }
}
