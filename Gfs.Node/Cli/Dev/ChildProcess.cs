using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Gfs.Node.Cli.Dev;

/// <summary>
/// One gfs child of <c>gfs dev</c>: its stderr (and any stdout besides the readiness line) goes to
/// its log file; it can be stopped with SIGTERM and, after a grace period, SIGKILL.
/// </summary>
internal sealed partial class ChildProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly StreamWriter log;
    private readonly Lock logLock = new();
    private readonly TaskCompletionSource<string> ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string readyMarker;

    private ChildProcess(string name, Uri url, Process process, StreamWriter log, string readyMarker)
    {
        Name = name;
        Url = url;
        this.process = process;
        this.log = log;
        this.readyMarker = readyMarker;
    }

    public string Name { get; }

    public Uri Url { get; }

    public string LogPath => ((FileStream)log.BaseStream).Name;

    /// <summary>Completes with the readiness line; fails if the process exits first.</summary>
    public Task<string> Ready => ready.Task;

    /// <summary>Completes with the exit code when the process exits.</summary>
    public Task<int> Exited => exited.Task;

    public static ChildProcess Start(string name, Uri url, IEnumerable<string> arguments, string logPath, string readyMarker)
    {
        var log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        var info = SelfProcess.StartInfo(arguments);
        log.WriteLine($"--- {DateTime.UtcNow:yyyy-MM-dd'T'HH:mm:ss.fff'Z'} gfs dev starts: {info.FileName} {string.Join(' ', info.ArgumentList)}");
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(name, url, process, log, readyMarker);
        process.OutputDataReceived += (_, e) => child.OnStdout(e.Data);
        process.ErrorDataReceived += (_, e) => child.Write(e.Data);
        process.Exited += (_, _) => child.OnExited();
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>SIGTERM, then SIGKILL if it has not exited within <paramref name="grace"/>. Returns the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan grace)
    {
        if (!process.HasExited)
        {
            _ = kill(process.Id, SigTerm);
            try
            {
                await Exited.WaitAsync(grace);
            }
            catch (TimeoutException)
            {
                Write($"--- did not stop within {grace.TotalSeconds:0} s of SIGTERM: SIGKILL");
                process.Kill(entireProcessTree: true);
            }
        }

        return await Exited;
    }

    /// <summary>The last lines of the log, for an error message.</summary>
    public string Tail(int lines)
    {
        try
        {
            using var reader = new StreamReader(new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            var all = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException e)
        {
            return $"(cannot read {LogPath}: {e.Message})";
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await Exited;
        }

        process.Dispose();
        lock (logLock)
        {
            log.Dispose();
        }
    }

    private const int SigTerm = 15;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    private void OnStdout(string? line)
    {
        if (line is not null && line.StartsWith(readyMarker, StringComparison.Ordinal))
        {
            ready.TrySetResult(line);
        }

        Write(line);
    }

    private void OnExited()
    {
        // The output pumps may still hold the last lines; WaitForExit() drains them.
        process.WaitForExit();
        var code = process.ExitCode;
        Write($"--- exited with code {code}");
        ready.TrySetException(new DevException($"{Name} exited with code {code} before it was ready"));
        exited.TrySetResult(code);
    }

    private void Write(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (logLock)
        {
            try
            {
                log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // Output after dispose is dropped.
            }
        }
    }
}
