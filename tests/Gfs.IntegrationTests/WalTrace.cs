using System.Globalization;
using System.Text.RegularExpressions;

namespace Gfs.IntegrationTests;

/// <summary>
/// A master's Raft log writes as <c>strace -f -ttt -T -y</c> recorded them, reduced to the moments
/// they were durable. In the default mode (docs/consensus.md, "The write-ahead log") an entry is
/// durable when its <c>pwrite</c> to a <c>wal/data</c> file opened with <c>O_DSYNC</c> (or
/// <c>O_SYNC</c>) returns, or when an <c>fsync</c>/<c>fdatasync</c> of that file returns after a
/// plain write; the restart trusts the log only up to the checkpoint, so the <c>wal/checkpoint</c>
/// write after it must be durable too. Syscalls that failed or that strace only pretended to run
/// (<c>INJECTED</c>) make nothing durable.
/// </summary>
internal sealed partial class WalTrace
{
    /// <summary>
    /// strace arguments for one master (put before <c>dotnet gfs.dll …</c>): the syscalls that open,
    /// write and sync files, each positioned write and sync delayed by 20 ms before it runs, so that
    /// a log that acknowledged before its sync returned would be seen doing so, not by luck.
    /// </summary>
    public static IReadOnlyList<string> Wrapper(string traceFile) =>
    [
        Gfs.Testing.FaultTools.StracePath, "-f", "-qq", "-ttt", "-T", "-y", "-s", "1048576", "--seccomp-bpf", "-o", traceFile,
        "-e", "trace=openat,pwrite64,pwritev,pwritev2,fsync,fdatasync",
        "-e", "inject=pwrite64,pwritev,pwritev2,fsync,fdatasync:delay_enter=20000",
        "--",
    ];

    private WalTrace(List<Write> data, List<Write> checkpoints, int lines)
    {
        Data = data;
        Checkpoints = checkpoints;
        Lines = lines;
    }

    /// <summary>Durable writes of log entries: when they began and returned (Unix seconds) and what they wrote, as strace printed it.</summary>
    public IReadOnlyList<Write> Data { get; }

    /// <summary>Durable writes of the log's checkpoint.</summary>
    public IReadOnlyList<Write> Checkpoints { get; }

    /// <summary>Lines in the trace.</summary>
    public int Lines { get; }

    /// <summary>
    /// True when a durable write holding <paramref name="needle"/> returned by <paramref name="before"/>
    /// and a durable checkpoint write that began after it also returned by then.
    /// </summary>
    public bool DurableBefore(string needle, double before)
    {
        foreach (var write in Data)
        {
            if (write.End <= before && write.Content.Contains(needle, StringComparison.Ordinal)
                && Checkpoints.Any(c => c.Start >= write.Start && c.End <= before))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A one-line account of the trace for failure messages.</summary>
    public string Describe() => $"{Lines} trace lines, {Data.Count} durable log writes, {Checkpoints.Count} durable checkpoint writes";

    public static WalTrace Read(string path)
    {
        var flags = new Dictionary<string, string>(StringComparer.Ordinal); // fd + path → open flags
        var pending = new Dictionary<string, (string Name, double Start, string Args)>(StringComparer.Ordinal); // thread → unfinished call
        var unsynced = new Dictionary<string, List<(double Start, string Content)>>(StringComparer.Ordinal); // file → plain writes since its last sync
        var data = new List<Write>();
        var checkpoints = new List<Write>();
        var lines = 0;
        foreach (var line in File.ReadLines(path))
        {
            lines++;
            string thread, name, args, tail;
            double start;
            if (Unfinished().Match(line) is { Success: true } u)
            {
                pending[u.Groups[1].Value] = (u.Groups[3].Value, Seconds(u.Groups[2].Value), u.Groups[4].Value);
                continue;
            }

            if (Resumed().Match(line) is { Success: true } r)
            {
                thread = r.Groups[1].Value;
                if (!pending.Remove(thread, out var call) || call.Name != r.Groups[3].Value)
                {
                    continue;
                }

                (name, start, args, tail) = (call.Name, call.Start, call.Args + r.Groups[4].Value, r.Groups[5].Value);
            }
            else if (Complete().Match(line) is { Success: true } c)
            {
                (name, start, args, tail) = (c.Groups[3].Value, Seconds(c.Groups[2].Value), c.Groups[4].Value, c.Groups[5].Value);
            }
            else
            {
                continue; // signals, exits, attach notes
            }

            if (Result().Match(tail) is not { Success: true } result)
            {
                continue;
            }

            var returned = long.Parse(result.Groups[1].Value, CultureInfo.InvariantCulture);
            var end = start + Seconds(result.Groups[4].Value);
            if (returned < 0 || result.Groups[3].Value.Contains("INJECTED", StringComparison.Ordinal))
            {
                continue; // failed, or never ran
            }

            if (name == "openat")
            {
                var open = Arguments().Match(args);
                if (open.Success && result.Groups[2].Success)
                {
                    flags[$"{returned}<{result.Groups[2].Value}>"] = open.Groups[2].Value;
                }

                continue;
            }

            if (FirstFd().Match(args) is not { Success: true } fd)
            {
                continue;
            }

            var file = fd.Groups[2].Value;
            var isData = file.Contains("/wal/data/", StringComparison.Ordinal);
            var isCheckpoint = file.EndsWith("/wal/checkpoint", StringComparison.Ordinal);
            if (!isData && !isCheckpoint)
            {
                continue;
            }

            var key = $"{fd.Groups[1].Value}<{file}>";
            switch (name)
            {
                case "pwrite64" or "pwritev" or "pwritev2":
                    var synchronous = flags.TryGetValue(key, out var f) && (f.Contains("O_DSYNC", StringComparison.Ordinal) || f.Contains("O_SYNC", StringComparison.Ordinal));
                    if (synchronous)
                    {
                        (isData ? data : checkpoints).Add(new Write(start, end, args));
                    }
                    else
                    {
                        (unsynced.TryGetValue(file, out var list) ? list : unsynced[file] = []).Add((start, args));
                    }

                    break;
                case "fsync" or "fdatasync":
                    if (unsynced.Remove(file, out var written))
                    {
                        (isData ? data : checkpoints).AddRange(written.Select(w => new Write(w.Start, end, w.Content)));
                    }

                    break;
            }
        }

        return new WalTrace(data, checkpoints, lines);
    }

    private static double Seconds(string text) => double.Parse(text, CultureInfo.InvariantCulture);

    /// <summary>A durable write: it began at <see cref="Start"/> and was durable at <see cref="End"/> (Unix seconds).</summary>
    public sealed record Write(double Start, double End, string Content);

    // "TID SECONDS name(args) = RESULT [<path>] [notes] <DURATION>"
    [GeneratedRegex(@"^(\d+)\s+(\d+\.\d+)\s+(\w+)\((.*)\)\s+(=.*)$")]
    private static partial Regex Complete();

    // "TID SECONDS name(args <unfinished ...>"
    [GeneratedRegex(@"^(\d+)\s+(\d+\.\d+)\s+(\w+)\((.*) <unfinished \.\.\.>$")]
    private static partial Regex Unfinished();

    // "TID SECONDS <... name resumed>rest) = RESULT … <DURATION>"
    [GeneratedRegex(@"^(\d+)\s+(\d+\.\d+)\s+<\.\.\. (\w+) resumed>(.*)\)\s+(=.*)$")]
    private static partial Regex Resumed();

    // "= 37 <0.001>", "= 5</path> <0.001>", "= 0 (DELAYED) <0.02>", "= -1 EIO (Input/output error) (INJECTED) <0.0>"
    [GeneratedRegex(@"^=\s+(-?\d+)(?:<([^>]*)>)?(.*?)<(\d+\.\d+)>\s*$")]
    private static partial Regex Result();

    // openat's arguments: "AT_FDCWD</dir>, "/path", FLAGS[, MODE]"
    [GeneratedRegex(@"^[^,]*,\s+""((?:[^""\\]|\\.)*)"",\s+([A-Z_|0-9]+)")]
    private static partial Regex Arguments();

    // The file descriptor a call starts with, with the path -y prints: "246</tmp/…/wal/data/0>"
    [GeneratedRegex(@"^(\d+)<([^>]*)>")]
    private static partial Regex FirstFd();
}
