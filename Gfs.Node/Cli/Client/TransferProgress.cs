using System.Globalization;
using System.Text;

namespace Gfs.Node.Cli.Client;

/// <summary>
/// Progress of a put or get. On a terminal a bar is redrawn in place (at most ten times a second,
/// starting after a quarter second, so small files show nothing). Otherwise a plain line every ten
/// seconds and a summary at the end, but only for transfers that took that long: scripts and logs
/// stay quiet for ordinary files.
/// </summary>
internal sealed class TransferProgress
{
    public static readonly TimeSpan TerminalFirst = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan TerminalEvery = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan PlainEvery = TimeSpan.FromSeconds(10);
    public const int BarWidth = 24;

    private readonly TextWriter writer;
    private readonly bool terminal;
    private readonly TimeProvider time;
    private readonly string label;
    private readonly long? total;
    private readonly long started;
    private TimeSpan nextAt;
    private int lastLength;
    private bool shown;

    public TransferProgress(TextWriter writer, bool terminal, TimeProvider time, string label, long? total)
    {
        this.writer = writer;
        this.terminal = terminal;
        this.time = time;
        this.label = label;
        this.total = total;
        started = time.GetTimestamp();
        nextAt = terminal ? TerminalFirst : PlainEvery;
    }

    /// <summary>A reporter that never prints (for --json and quiet runs).</summary>
    public static TransferProgress? None => null;

    public TimeSpan Elapsed => time.GetElapsedTime(started);

    /// <summary>Called after each block with the bytes moved so far; cheap when nothing is due.</summary>
    public void Report(long done)
    {
        var elapsed = Elapsed;
        if (elapsed < nextAt)
        {
            return;
        }

        nextAt = elapsed + (terminal ? TerminalEvery : PlainEvery);
        shown = true;
        if (terminal)
        {
            var line = RenderBar(label, done, total, elapsed);
            writer.Write('\r' + line.PadRight(lastLength));
            lastLength = line.Length;
        }
        else
        {
            writer.WriteLine(RenderPlain(label, done, total, elapsed));
        }

        writer.Flush();
    }

    /// <summary>Ends the display: the final state of the bar and a newline, or a plain summary, when anything was shown.</summary>
    public void Complete(long done)
    {
        if (!shown)
        {
            return;
        }

        var elapsed = Elapsed;
        if (terminal)
        {
            var line = RenderBar(label, done, total, elapsed);
            writer.WriteLine('\r' + line.PadRight(lastLength));
        }
        else
        {
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label}: done, {Sizes.Human(done)} in {elapsed.TotalSeconds:0.0} s, {Sizes.Rate(done, elapsed)}"));
        }

        writer.Flush();
    }

    /// <summary>Ends a failed transfer: moves off the bar's line so the error line stands alone.</summary>
    public void Abort()
    {
        if (shown && terminal)
        {
            writer.WriteLine();
            writer.Flush();
        }
    }

    /// <summary><c>put big.iso [##########--------------]  42%  430.0 MiB / 1.0 GiB  412.3 MB/s  ETA 2s</c></summary>
    public static string RenderBar(string label, long done, long? total, TimeSpan elapsed)
    {
        var text = new StringBuilder(label);
        var rate = Sizes.Rate(done, elapsed);
        if (total is > 0 and var all)
        {
            var fraction = Math.Clamp((double)done / all, 0, 1);
            var filled = (int)Math.Floor(fraction * BarWidth);
            text.Append(" [").Append('#', filled).Append('-', BarWidth - filled).Append(']');
            text.Append(CultureInfo.InvariantCulture, $" {fraction * 100,3:0}%  {Sizes.Human(done)} / {Sizes.Human(all)}  {rate}");
            var perSecond = elapsed > TimeSpan.Zero ? done / elapsed.TotalSeconds : 0;
            if (perSecond > 0 && done < all)
            {
                text.Append(CultureInfo.InvariantCulture, $"  ETA {FormatDuration(TimeSpan.FromSeconds((all - done) / perSecond))}");
            }
        }
        else
        {
            text.Append(CultureInfo.InvariantCulture, $"  {Sizes.Human(done)}  {rate}");
        }

        return text.ToString();
    }

    /// <summary><c>put big.iso: 1.2 GiB of 4.0 GiB (30%), 412.3 MB/s</c></summary>
    public static string RenderPlain(string label, long done, long? total, TimeSpan elapsed)
        => total is > 0 and var all
            ? string.Create(CultureInfo.InvariantCulture, $"{label}: {Sizes.Human(done)} of {Sizes.Human(all)} ({100.0 * done / all:0}%), {Sizes.Rate(done, elapsed)}")
            : string.Create(CultureInfo.InvariantCulture, $"{label}: {Sizes.Human(done)}, {Sizes.Rate(done, elapsed)}");

    public static string FormatDuration(TimeSpan duration)
        => duration.TotalSeconds < 60
            ? string.Create(CultureInfo.InvariantCulture, $"{Math.Ceiling(duration.TotalSeconds):0}s")
            : duration.TotalHours < 1
                ? string.Create(CultureInfo.InvariantCulture, $"{(int)duration.TotalMinutes}m{duration.Seconds:00}s")
                : string.Create(CultureInfo.InvariantCulture, $"{(int)duration.TotalHours}h{duration.Minutes:00}m");
}
