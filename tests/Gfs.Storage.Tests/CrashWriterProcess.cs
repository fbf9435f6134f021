using System.Diagnostics;

namespace Gfs.Storage.Tests;

/// <summary>Runs tests/Gfs.Storage.CrashWriter as a child process (optionally under strace).</summary>
internal sealed class CrashWriterProcess : IDisposable
{
    private readonly Process process;
    private readonly TaskCompletionSource ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> output = [];

    private CrashWriterProcess(string fileName, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static string DllPath { get; } = FindDll();

    public static CrashWriterProcess Start(params string[] args) => new("dotnet", [DllPath, .. args]);

    public static CrashWriterProcess StartUnder(string tool, IEnumerable<string> toolArgs, params string[] args) =>
        new(tool, [.. toolArgs, "dotnet", DllPath, .. args]);

    public IReadOnlyList<string> Output
    {
        get
        {
            lock (output)
            {
                return output.ToList();
            }
        }
    }

    public string OutputText => string.Join('\n', Output);

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.Add(line);
        }

        if (line == "ready")
        {
            ready.TrySetResult();
        }
    }

    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var exited = process.WaitForExitAsync();
        var done = await Task.WhenAny(ready.Task, exited, Task.Delay(timeout));
        if (done != ready.Task)
        {
            throw new TimeoutException($"the crash writer did not become ready (exited: {process.HasExited}); output:\n{OutputText}");
        }
    }

    public async Task<int> WaitExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cts.Token);
        process.WaitForExit(); // drains the redirected output
        return process.ExitCode;
    }

    /// <summary>SIGKILL, then wait until the process is gone.</summary>
    public void Kill()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        process.WaitForExit();
    }

    public void Dispose()
    {
        Kill();
        process.Dispose();
    }

    private static string FindDll()
    {
        var here = AppContext.BaseDirectory;
        var configuration = here.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var dir = new DirectoryInfo(here);
        while (dir is not null)
        {
            var candidate = Path.Combine(dir.FullName, "Gfs.Storage.CrashWriter", "bin", configuration, "net10.0", "Gfs.Storage.CrashWriter.dll");
            if (File.Exists(candidate))
            {
                return candidate;
            }

            candidate = Path.Combine(dir.FullName, "tests", "Gfs.Storage.CrashWriter", "bin", configuration, "net10.0", "Gfs.Storage.CrashWriter.dll");
            if (File.Exists(candidate))
            {
                return candidate;
            }

            dir = dir.Parent;
        }

        throw new FileNotFoundException($"Gfs.Storage.CrashWriter.dll ({configuration}) not found above {here}; build tests/Gfs.Storage.CrashWriter");
    }
}
