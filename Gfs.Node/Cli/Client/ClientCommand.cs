using System.CommandLine;
using Gfs.Client.Protocol;

namespace Gfs.Node.Cli.Client;

/// <summary>What every client verb shares: the <c>--masters</c> and <c>--json</c> options and the run wrapper that turns failures into one error line and an exit code.</summary>
internal static class ClientCommand
{
    public static Option<string?> MastersOption() => new("--masters")
    {
        Description = $"Comma-separated master URLs (default: ${MastersResolver.MastersVariable}, then the config file ${MastersResolver.ConfigVariable} or ~/.config/gfs/config.json).",
    };

    public static Option<bool> JsonOption() => new("--json") { Description = "Print the result as one JSON document (shapes in docs/cli.md)." };

    public static Option<bool> HumanOption() => new("--human-readable", "-h") { Description = "Sizes in KiB, MiB, GiB … instead of bytes." };

    /// <summary>A positional argument naming a path. A token that looks like an option is refused rather than taken as a path (write <c>/-name</c> for such a name).</summary>
    public static Argument<T> PathArgument<T>(Argument<T> argument)
    {
        ArgumentNullException.ThrowIfNull(argument);
        argument.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                if (token.Value.Length > 1 && token.Value[0] == '-')
                {
                    result.AddError($"unrecognized option '{token.Value}' (a path starting with - must be written /{token.Value.TrimStart('/')})");
                }
            }
        });
        return argument;
    }

    /// <summary>
    /// Resolves the masters, connects, runs <paramref name="body"/> and maps any failure to
    /// <c>gfs: &lt;path&gt;: &lt;message&gt; (&lt;ErrorCode&gt;)</c> on stderr and an exit code.
    /// </summary>
    public static async Task<int> RunAsync(
        CliHost host, string? masters, string? path, Func<IGfsFileSystem, CancellationToken, Task<int>> body, CancellationToken cancellationToken)
    {
        IReadOnlyList<Uri> list;
        try
        {
            (list, _) = MastersResolver.Resolve(masters, host.GetEnvironmentVariable, host.HomeDirectory);
        }
        catch (CliException e)
        {
            // A configuration problem is not about the path the verb was given.
            return Fail(host, e, null, false);
        }

        try
        {
            var fs = host.Connect(list);
            await using (fs)
            {
                var code = await body(fs, cancellationToken);
                await host.Out.FlushAsync(cancellationToken);
                return code;
            }
        }
        catch (Exception e)
        {
            return Fail(host, e, path, cancellationToken.IsCancellationRequested);
        }
    }

    /// <summary>Prints the error line for <paramref name="error"/> and returns the exit code.</summary>
    public static int Fail(CliHost host, Exception error, string? path, bool interrupted)
    {
        var (line, exitCode) = CliErrors.Describe(error, path, interrupted);
        if (line is not null)
        {
            host.Error.WriteLine(line);
            host.Error.Flush();
        }

        return exitCode;
    }

    /// <summary>A command-line value that is wrong in a way the parser cannot see.</summary>
    public static CliException Usage(string message) => new(ErrorCode.InvalidArgument, message);
}
