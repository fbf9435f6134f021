using System.CommandLine;
using Gfs.Node.Chunkserver;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gfs.Node.Cli;

/// <summary><c>gfs chunkserver</c>: stores chunks, heartbeats to every master, serves the data path.</summary>
internal static class ChunkserverCommand
{
    /// <summary>Start of the one line printed on stdout once the chunkserver listens.</summary>
    public const string ReadyMarker = "gfs chunkserver ready";

    public static Command Create()
    {
        var masters = new Option<string>("--masters") { Description = "Comma-separated URLs of every master replica; heartbeats go to each.", Required = true };
        var data = new Option<string>("--data") { Description = "Data directory: chunks under DIR/chunks, the server id in DIR/server-id.", Required = true };
        var listen = new Option<string>("--listen") { Description = "URL to listen on (port 0 picks a free port; https needs --cert).", DefaultValueFactory = _ => "http://127.0.0.1:0" };
        var certificate = new Option<string?>("--cert") { Description = "TLS certificate (PEM or PFX) for an https URL." };
        var key = new Option<string?>("--key") { Description = "PEM private key of --cert." };
        var rack = new Option<string>("--rack") { Description = "Rack name reported to the masters (placement spreads replicas across racks).", DefaultValueFactory = _ => "" };
        var bufferMiB = new Option<int>("--buffer-mib") { Description = "Most MiB of pushed data held at once; a push waits for room up to its deadline.", DefaultValueFactory = _ => 1024 };
        var heartbeatMs = new Option<int>("--heartbeat-ms") { Description = "Milliseconds between heartbeats to each master.", DefaultValueFactory = _ => 1000 };
        var maxOpenFiles = new Option<int>("--max-open-files") { Description = "Most chunk files kept open at once; the least recently used are closed above it.", DefaultValueFactory = _ => 1024 };
        var logLevel = new Option<LogLevel>("--log-level") { Description = "Least severe log level written to stderr.", DefaultValueFactory = _ => LogLevel.Information };

        var command = new Command("chunkserver", "Run a chunkserver: store chunks, heartbeat to every master, serve pushes, writes, appends and reads.")
        {
            masters, data, listen, certificate, key, rack, bufferMiB, heartbeatMs, maxOpenFiles, logLevel,
        };
        command.SetAction((parse, ct) => RunAsync(
            parse.GetRequiredValue(masters),
            parse.GetRequiredValue(data),
            parse.GetRequiredValue(listen),
            parse.GetValue(certificate),
            parse.GetValue(key),
            parse.GetRequiredValue(rack),
            parse.GetValue(bufferMiB),
            parse.GetValue(heartbeatMs),
            parse.GetValue(maxOpenFiles),
            parse.GetValue(logLevel),
            ct));
        return command;
    }

    private static async Task<int> RunAsync(string masters, string data, string listen, string? certificate, string? key, string rack, int bufferMiB, int heartbeatMs, int maxOpenFiles, LogLevel logLevel, CancellationToken cancellationToken)
    {
        ChunkserverOptions options;
        try
        {
            options = new ChunkserverOptions
            {
                Masters = [.. masters.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ParseUrl)],
                DataDirectory = data,
                Rack = rack,
                BufferBytes = bufferMiB > 0 ? (long)bufferMiB << 20 : throw new ArgumentException("--buffer-mib must be positive"),
                HeartbeatInterval = heartbeatMs > 0 ? TimeSpan.FromMilliseconds(heartbeatMs) : throw new ArgumentException("--heartbeat-ms must be positive"),
                MaxOpenFiles = maxOpenFiles,
            };
            var url = ParseUrl(listen);
            if (url.Scheme == "https" && certificate is null)
            {
                throw new ArgumentException("an https --listen URL needs --cert");
            }

            options.Validate();
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"gfs chunkserver: {e.Message}");
            return 2;
        }

        ChunkserverHost host;
        try
        {
            host = await ChunkserverHost.StartAsync(options, listen, certificate, key, b => NodeLogging.Configure(b, logLevel), cancellationToken: cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return 1;
        }
        catch (Exception e) when (e is Gfs.Storage.ChunkStoreException or IOException or InvalidDataException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"gfs chunkserver: cannot start: {e.Message}");
            return 1;
        }

        await using (host)
        {
            Console.WriteLine($"{ReadyMarker}: id={host.ServerId} url={host.Url}");
            host.StartBackground();
            try
            {
                await host.App.WaitForShutdownAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C or SIGTERM: stop cleanly below.
            }
        }

        return 0;
    }

    private static Uri ParseUrl(string text)
        => Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new ArgumentException($"'{text}' is not an http:// or https:// URL");
}
