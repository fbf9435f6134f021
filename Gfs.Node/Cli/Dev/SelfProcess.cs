using System.Diagnostics;
using System.Reflection;

namespace Gfs.Node.Cli.Dev;

/// <summary>How to start another process of this same <c>gfs</c>: the apphost itself, or <c>dotnet gfs.dll</c>.</summary>
internal static class SelfProcess
{
    /// <summary>The executable and the arguments that come before the command's own.</summary>
    public static (string FileName, IReadOnlyList<string> Prefix) Resolve(string? processPath, string? entryAssemblyPath)
    {
        if (string.IsNullOrEmpty(processPath))
        {
            throw new InvalidOperationException("cannot tell which executable is running (Environment.ProcessPath is empty)");
        }

        var name = Path.GetFileNameWithoutExtension(processPath);
        if (!string.Equals(name, "dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return (processPath, []);
        }

        return string.IsNullOrEmpty(entryAssemblyPath)
            ? throw new InvalidOperationException("running under dotnet, but the entry assembly's path is unknown")
            : (processPath, [entryAssemblyPath]);
    }

    public static ProcessStartInfo StartInfo(IEnumerable<string> arguments)
    {
        var (fileName, prefix) = Resolve(Environment.ProcessPath, Assembly.GetEntryAssembly()?.Location);
        var info = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in prefix.Concat(arguments))
        {
            info.ArgumentList.Add(argument);
        }

        return info;
    }

    /// <summary>
    /// What a user types to run gfs: <c>gfs</c> when it is on the PATH, else
    /// <c>dotnet run --project Gfs.Node --</c> (from a checkout).
    /// </summary>
    public static string UserCommand(string? pathVariable, Func<string, bool> fileExists)
    {
        ArgumentNullException.ThrowIfNull(fileExists);
        foreach (var directory in (pathVariable ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            if (fileExists(Path.Combine(directory, "gfs")))
            {
                return "gfs";
            }
        }

        return "dotnet run --project Gfs.Node --";
    }
}
