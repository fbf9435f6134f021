using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Gfs.Node.Rpc;

/// <summary>
/// Sets up Kestrel for Gfs RPCs: HTTP/2 only, TLS or h2c per URL, flow-control windows and stream
/// limits sized for 64 MiB transfers, and no framework body-size cap (each route enforces its own).
/// </summary>
public static class RpcHosting
{
    /// <summary>Adds the RPC dispatcher and configures Kestrel from the <see cref="RpcServerOptions"/> that <paramref name="configure"/> sets.</summary>
    public static WebApplicationBuilder AddGfsRpc(this WebApplicationBuilder builder, Action<RpcServerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<RpcServerOptions>()
            .Configure(configure)
            .ValidateDataAnnotations()
            .Validate(o => o.Urls.All(u => Uri.TryCreate(u, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"), "every URL must be http://host:port or https://host:port")
            .Validate(o => o.CertificatePath is not null || o.Urls.All(u => !u.StartsWith("https:", StringComparison.OrdinalIgnoreCase)), "https URLs need CertificatePath")
            .ValidateOnStart();
        builder.Services.AddSingleton<RpcDispatcher>();

        // Kestrel's 4 KiB pool blocks make a bulk upload one recv and one pipe segment per 4 KiB;
        // 64 KiB blocks halve an upload's CPU per byte (docs/benchmarks.md, Transport).
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>>(new LargeBlockMemoryPoolFactory(LargeBlockMemoryPool.DefaultBlockBytes, LargeBlockMemoryPool.DefaultMaxPooledBlocks));
        builder.Services.AddRouting();

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // Resolving the options here validates them before anything listens.
            var options = kestrel.ApplicationServices.GetRequiredService<IOptions<RpcServerOptions>>().Value;
            var certificate = options.CertificatePath is null ? null : LoadCertificate(options.CertificatePath, options.CertificateKeyPath);
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.Http2.InitialConnectionWindowSize = options.Http2ConnectionWindowBytes;
            kestrel.Limits.Http2.InitialStreamWindowSize = Math.Min(options.Http2StreamWindowBytes, options.Http2ConnectionWindowBytes);
            kestrel.Limits.Http2.MaxStreamsPerConnection = options.Http2MaxStreamsPerConnection;
            kestrel.Limits.Http2.MaxFrameSize = options.Http2MaxFrameBytes;
            kestrel.Limits.Http2.MaxRequestHeaderFieldSize = 64 * 1024;
            foreach (var url in options.Urls)
            {
                var uri = new Uri(url);
                var address = uri.Host switch
                {
                    "localhost" => IPAddress.Loopback,
                    "*" or "+" or "0.0.0.0" => IPAddress.Any,
                    "[::]" => IPAddress.IPv6Any,
                    _ => IPAddress.Parse(uri.Host.Trim('[', ']')),
                };
                kestrel.Listen(address, uri.Port, listen =>
                {
                    // Cleartext endpoints must be Http2 only: Http1AndHttp2 without TLS silently speaks HTTP/1.1.
                    listen.Protocols = HttpProtocols.Http2;
                    if (uri.Scheme == "https")
                    {
                        listen.UseHttps(certificate ?? throw new InvalidOperationException("https URLs need a certificate"));
                    }
                });
            }
        });
        return builder;
    }

    /// <summary>Maps the fallback for unknown RPC routes. Call after mapping the node's RPCs.</summary>
    public static WebApplication UseGfsRpc(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapRpcFallback();
        return app;
    }

    /// <summary>The URLs the node actually listens on (ports resolved), available once the app has started.</summary>
    public static IReadOnlyList<Uri> BoundUrls(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses
            ?? throw new InvalidOperationException("the server exposes no addresses");
        return addresses.Select(a => new Uri(a.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "[::1]", StringComparison.Ordinal))).ToList();
    }

    /// <summary>Logs the effective transport configuration once, at start.</summary>
    public static void LogRpcConfiguration(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var options = app.Services.GetRequiredService<IOptions<RpcServerOptions>>().Value;
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Gfs.Node.Rpc");
        var urls = app.BoundUrls();
        Log.Listening(logger, string.Join(", ", urls), urls.Any(u => u.Scheme == "https") ? "TLS, ALPN h2" : "cleartext h2c");
        Log.TransportConfiguration(logger, options.MaxMessageBytes, options.MaxUploadBytes, options.Http2ConnectionWindowBytes, options.Http2StreamWindowBytes, options.Http2MaxStreamsPerConnection, options.Http2MaxFrameBytes);
    }

    /// <summary>Loads a PFX file, or a PEM certificate with its PEM key.</summary>
    public static X509Certificate2 LoadCertificate(string path, string? keyPath)
    {
        if (keyPath is null && (path.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".p12", StringComparison.OrdinalIgnoreCase)))
        {
            return X509CertificateLoader.LoadPkcs12FromFile(path, password: null);
        }

        using var pem = X509Certificate2.CreateFromPemFile(path, keyPath);

        // Kestrel on Linux needs the key in an exportable, persisted form; a PKCS#12 round trip gives that.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
    }
}
