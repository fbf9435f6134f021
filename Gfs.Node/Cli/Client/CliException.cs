using Gfs.Client.Protocol;

namespace Gfs.Node.Cli.Client;

/// <summary>A failure the command line detects itself (bad arguments, no masters configured, a local file problem).</summary>
internal sealed class CliException : Exception
{
    public CliException(ErrorCode code, string message, string? path = null)
        : base(message)
    {
        Code = code;
        Path = path;
    }

    public ErrorCode Code { get; }

    /// <summary>The path the failure is about, when it is not the command's main path.</summary>
    public string? Path { get; }
}
