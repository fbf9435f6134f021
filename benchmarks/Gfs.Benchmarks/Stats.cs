namespace Gfs.Benchmarks;

/// <summary>Small helpers for reporting medians of repeated runs.</summary>
public static class Stats
{
    public static double Median(IReadOnlyList<double> values)
    {
        ArgumentOutOfRangeException.ThrowIfZero(values.Count);
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        ArgumentOutOfRangeException.ThrowIfZero(values.Count);
        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }

    /// <summary>Megabytes (10^6 bytes) per second.</summary>
    public static double MBps(long bytes, TimeSpan elapsed) => bytes / 1e6 / elapsed.TotalSeconds;
}
