using Gfs.Client;

namespace Gfs.Node.Cli.Client;

/// <summary>
/// What the client verbs touch outside themselves: the console, the environment and the cluster.
/// <see cref="System"/> is the real one; tests build their own with in-memory streams and a fake
/// file system.
/// </summary>
internal sealed record CliHost
{
    /// <summary>Text output (tables, JSON).</summary>
    public required TextWriter Out { get; init; }

    /// <summary>Error lines and progress.</summary>
    public required TextWriter Error { get; init; }

    /// <summary>Opens standard input as bytes (put -, append -).</summary>
    public required Func<Stream> OpenStandardInput { get; init; }

    /// <summary>Opens standard output as bytes (cat, get … -).</summary>
    public required Func<Stream> OpenStandardOutput { get; init; }

    /// <summary>True when stderr is a terminal: progress bars are drawn in place.</summary>
    public required bool ErrorIsTerminal { get; init; }

    /// <summary>Reads an environment variable.</summary>
    public required Func<string, string?> GetEnvironmentVariable { get; init; }

    /// <summary>The user's home directory (for ~/.config/gfs/config.json).</summary>
    public required string HomeDirectory { get; init; }

    /// <summary>Connects to the cluster whose masters are given.</summary>
    public required Func<IReadOnlyList<Uri>, IGfsFileSystem> Connect { get; init; }

    /// <summary>The clock for throughput figures and progress.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    public static CliHost System { get; } = new()
    {
        Out = Console.Out,
        Error = Console.Error,
        OpenStandardInput = Console.OpenStandardInput,
        OpenStandardOutput = Console.OpenStandardOutput,
        ErrorIsTerminal = !Console.IsErrorRedirected,
        GetEnvironmentVariable = Environment.GetEnvironmentVariable,
        HomeDirectory = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile),
        Connect = masters => new GfsClientFileSystem(new GfsClient(new GfsClientOptions { Masters = masters })),
    };
}
