using System.CommandLine;
using System.CommandLine.Invocation;
using Gfs.Node.Cli.Client;

namespace Gfs.Node.Cli;

/// <summary>Runs a command line the way the <c>gfs</c> executable does.</summary>
internal static class CliInvocation
{
    public static async Task<int> InvokeAsync(RootCommand root, IReadOnlyList<string> args, InvocationConfiguration? configuration = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        var parse = root.Parse(args);

        // Termination (Ctrl+C, SIGTERM) cancels the command's token; commands that own child processes
        // (gfs dev, gfs bench) need more than System.CommandLine's default two seconds to stop them.
        var exitCode = await parse.InvokeAsync(configuration ?? new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });

        // A command line the parser rejects is a usage error (docs/cli.md).
        return parse.Action is ParseErrorAction ? ExitCodes.Usage : exitCode;
    }
}
