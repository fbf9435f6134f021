using System.Globalization;

namespace Gfs.Node.Cli.Client;

/// <summary>Byte counts for people: parsing <c>64MiB</c>-style arguments and formatting <c>-h</c> output.</summary>
internal static class Sizes
{
    private static readonly string[] BinaryUnits = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

    /// <summary>
    /// Parses a byte count: a plain number, or a number with a binary (KiB, MiB, GiB, TiB; K, M, G, T
    /// mean the same) or decimal (KB, MB, GB, TB) suffix, case-insensitive. Fractions are allowed with a suffix (1.5GiB).
    /// </summary>
    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        var split = text.Length;
        while (split > 0 && char.IsAsciiLetter(text[split - 1]))
        {
            split--;
        }

        var unit = text[split..].ToUpperInvariant();
        var multiplier = unit switch
        {
            "" or "B" => 1L,
            "K" or "KI" or "KIB" => 1L << 10,
            "M" or "MI" or "MIB" => 1L << 20,
            "G" or "GI" or "GIB" => 1L << 30,
            "T" or "TI" or "TIB" => 1L << 40,
            "KB" => 1_000L,
            "MB" => 1_000_000L,
            "GB" => 1_000_000_000L,
            "TB" => 1_000_000_000_000L,
            _ => 0L,
        };
        if (multiplier == 0 || !decimal.TryParse(text[..split].Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }

        var value = number * multiplier;
        if (value > long.MaxValue || value != decimal.Truncate(value))
        {
            return false;
        }

        bytes = (long)value;
        return true;
    }

    public static long Parse(string text)
        => TryParse(text, out var bytes) ? bytes : throw new FormatException($"'{text}' is not a size (examples: 4096, 4KiB, 64MiB, 1.5GiB, 1GB)");

    /// <summary>Binary units with one decimal: <c>0 B</c>, <c>1023 B</c>, <c>1.0 KiB</c>, <c>1.5 GiB</c>.</summary>
    public static string Human(long bytes)
    {
        if (bytes < 0)
        {
            return "-" + Human(-bytes);
        }

        if (bytes < 1024)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{bytes} B");
        }

        var value = (double)bytes;
        var unit = 0;
        while (value >= 1024 && unit < BinaryUnits.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        // 1023.96 KiB would round to "1024.0 KiB": show it as the next unit instead.
        if (Math.Round(value, 1) >= 1024 && unit < BinaryUnits.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {BinaryUnits[unit]}");
    }

    /// <summary>A byte count as a number, or <see cref="Human"/> with <paramref name="human"/>.</summary>
    public static string Format(long bytes, bool human) => human ? Human(bytes) : bytes.ToString(CultureInfo.InvariantCulture);

    /// <summary>Throughput in decimal megabytes per second (10⁶ bytes), as disks and networks are quoted.</summary>
    public static double MegabytesPerSecond(long bytes, TimeSpan elapsed)
        => elapsed > TimeSpan.Zero ? bytes / 1e6 / elapsed.TotalSeconds : 0;

    public static string Rate(long bytes, TimeSpan elapsed)
        => string.Create(CultureInfo.InvariantCulture, $"{MegabytesPerSecond(bytes, elapsed):0.0} MB/s");
}
