using Gfs.Client.Protocol;

namespace Gfs.Node.Cli.Client;

/// <summary>
/// Turns any failure of a verb into the one line printed on stderr,
/// <c>gfs: &lt;path&gt;: &lt;message&gt; (&lt;ErrorCode&gt;)</c>, and the exit code.
/// </summary>
internal static class CliErrors
{
    /// <summary>The line (null when nothing should be printed) and the exit code for <paramref name="error"/> raised while working on <paramref name="path"/>.</summary>
    public static (string? Line, int ExitCode) Describe(Exception error, string? path, bool interrupted)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (error is AggregateException { InnerExceptions.Count: 1 } aggregate)
        {
            error = aggregate.InnerExceptions[0];
        }

        if (interrupted && error is OperationCanceledException or GfsException { Code: ErrorCode.Cancelled })
        {
            return (Format(null, "interrupted", ErrorCode.Cancelled), ExitCodes.Interrupted);
        }

        if (IsBrokenPipe(error))
        {
            return (null, ExitCodes.BrokenPipe);
        }

        var (code, where) = error switch
        {
            GfsException g => (g.Code, path),
            CliException c => (c.Code, c.Path ?? path),
            FileNotFoundException f => (ErrorCode.NotFound, f.FileName ?? path),
            DirectoryNotFoundException => (ErrorCode.NotFound, path),
            UnauthorizedAccessException => (ErrorCode.PermissionDenied, path),
            OperationCanceledException => (ErrorCode.DeadlineExceeded, path),
            _ => (ErrorCode.Internal, path),
        };
        return (Format(where, error.Message, code), ExitCodes.Of(code));
    }

    public static string Format(string? path, string message, ErrorCode code)
    {
        // One line, whatever the message holds.
        message = message.ReplaceLineEndings(" ").Trim();
        return string.IsNullOrEmpty(path) ? $"gfs: {message} ({code})" : $"gfs: {path}: {message} ({code})";
    }

    private static bool IsBrokenPipe(Exception error)
        => error is IOException && error.Message.Contains("Broken pipe", StringComparison.OrdinalIgnoreCase);
}
