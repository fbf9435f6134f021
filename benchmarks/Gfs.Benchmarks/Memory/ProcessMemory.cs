using System.Globalization;

namespace Gfs.Benchmarks.Memory;

/// <summary>Reads this process's peak resident set size (VmHWM) from /proc and resets it (Linux).</summary>
internal static class ProcessMemory
{
    /// <summary>Peak resident set size since start or the last <see cref="ResetPeak"/>, in bytes.</summary>
    public static long PeakWorkingSet()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                var kb = long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                return kb * 1024;
            }
        }

        throw new InvalidOperationException("/proc/self/status has no VmHWM line");
    }

    /// <summary>Resets the peak to the current resident set size (writing 5 to clear_refs).</summary>
    public static void ResetPeak() => File.WriteAllText("/proc/self/clear_refs", "5");
}
