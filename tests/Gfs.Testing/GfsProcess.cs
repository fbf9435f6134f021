using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Gfs.Testing;

/// <summary>
/// A real <c>gfs</c> process started by a test: its output is captured (and shown when an
/// assertion fails), it can be waited on for its readiness line, killed with SIGKILL, paused with
/// SIGSTOP and resumed. The executable is the gfs.dll copied beside the test assembly.
/// </summary>
public sealed partial class GfsProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly ConcurrentQueue<string> output = new();
    private readonly TaskCompletionSource<string> ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string? readyMarker;

    private GfsProcess(Process process, string? readyMarker)
    {
        this.process = process;
        this.readyMarker = readyMarker;
    }

    /// <summary>Path of gfs.dll (override with the GFS_DLL environment variable).</summary>
    public static string DllPath => Environment.GetEnvironmentVariable("GFS_DLL") ?? Path.Combine(AppContext.BaseDirectory, "gfs.dll");

    public int Id => process.Id;

    public bool HasExited => process.HasExited;

    public int ExitCode => process.ExitCode;

    /// <summary>Everything the process printed so far, stdout and stderr interleaved.</summary>
    public string Output => string.Join('\n', output);

    /// <summary>
    /// Starts gfs with <paramref name="arguments"/>; <paramref name="readyMarker"/> is the start of its readiness line.
    /// With <paramref name="wrapper"/> (for example <c>["strace", "-f", "-o", file, "--"]</c>) gfs runs under that
    /// program; a kill then ends the wrapper and gfs together.
    /// </summary>
    public static GfsProcess Start(IEnumerable<string> arguments, string? readyMarker = null, IDictionary<string, string>? environment = null, IReadOnlyList<string>? wrapper = null)
    {
        var info = StartInfo(arguments, environment, wrapper);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var gfs = new GfsProcess(process, readyMarker);
        process.OutputDataReceived += (_, e) => gfs.OnLine(e.Data, "");
        process.ErrorDataReceived += (_, e) => gfs.OnLine(e.Data, "stderr: ");
        process.Exited += (_, _) => gfs.ready.TrySetException(new InvalidOperationException($"gfs exited with code {process.ExitCode} before it was ready"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return gfs;
    }

    /// <summary>Runs gfs to completion and returns its exit code, stdout and stderr.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(IEnumerable<string> arguments, TimeSpan? timeout = null, string? stdin = null, IDictionary<string, string>? environment = null)
    {
        var info = StartInfo(arguments, environment);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start gfs");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"gfs {string.Join(' ', arguments)} did not finish; output so far: {await stdout}{await stderr}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Waits for the readiness line and returns it.</summary>
    public async Task<string> WaitReadyAsync(TimeSpan timeout)
    {
        try
        {
            return await ready.Task.WaitAsync(timeout);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            throw new InvalidOperationException($"gfs was not ready ({e.Message}); its output:\n{Output}", e);
        }
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public void Kill()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
    }

    /// <summary>SIGSTOP: the process freezes, its sockets stay open.</summary>
    public void Pause() => Signal(19);

    /// <summary>SIGCONT.</summary>
    public void Resume() => Signal(18);

    /// <summary>SIGTERM, then waits for a clean exit.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (!process.HasExited)
        {
            Signal(15);
            using var cts = new CancellationTokenSource(timeout);
            await process.WaitForExitAsync(cts.Token);
        }

        return process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await process.WaitForExitAsync();
        process.Dispose();
    }

    private static ProcessStartInfo StartInfo(IEnumerable<string> arguments, IDictionary<string, string>? environment, IReadOnlyList<string>? wrapper = null)
    {
        var info = new ProcessStartInfo(wrapper is { Count: > 0 } ? wrapper[0] : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (wrapper is { Count: > 0 })
        {
            foreach (var argument in wrapper.Skip(1))
            {
                info.ArgumentList.Add(argument);
            }

            info.ArgumentList.Add("dotnet");
        }

        info.ArgumentList.Add(DllPath);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        return info;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    private void Signal(int signal)
    {
        if (kill(process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({process.Id}, {signal}) failed with errno {Marshal.GetLastPInvokeError()}");
        }
    }

    private void OnLine(string? line, string prefix)
    {
        if (line is null)
        {
            return;
        }

        output.Enqueue(prefix + line);
        if (readyMarker is not null && line.StartsWith(readyMarker, StringComparison.Ordinal))
        {
            ready.TrySetResult(line);
        }
    }
}
