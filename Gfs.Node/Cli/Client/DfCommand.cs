using System.CommandLine;
using System.Globalization;
using Gfs.Client.Protocol.Master;

namespace Gfs.Node.Cli.Client;

/// <summary><c>gfs df</c>: the cluster's capacity, use and free space, from the chunkservers the leader knows.</summary>
internal static class DfCommand
{
    public static Command Create(CliHost host)
    {
        var human = ClientCommand.HumanOption();
        var masters = ClientCommand.MastersOption();
        var json = ClientCommand.JsonOption();
        var command = new Command("df", "Cluster capacity, used and free bytes, and live and dead chunkservers.") { human, masters, json };
        command.SetAction((parse, ct) => ClientCommand.RunAsync(host, parse.GetValue(masters), null, async (fs, token) =>
        {
            var summary = Summarize(await fs.ClusterStatusAsync(token));
            if (parse.GetValue(json))
            {
                CliJson.Write(host.Out, summary);
            }
            else
            {
                foreach (var line in Render(summary, parse.GetValue(human)))
                {
                    host.Out.WriteLine(line);
                }
            }

            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    /// <summary>Totals over the live chunkservers (a dead one's disk is not usable capacity), and the counts.</summary>
    internal static DfJson Summarize(StatusReply status)
    {
        var live = status.Chunkservers.Where(c => !c.Dead).ToList();
        var capacity = live.Sum(c => c.CapacityBytes);
        var used = live.Sum(c => c.UsedBytes);
        var free = live.Sum(c => c.FreeBytes);
        var percent = capacity > 0 ? Math.Round(100.0 * (capacity - free) / capacity, 1) : 0;
        return new DfJson(
            capacity,
            used,
            free,
            percent,
            live.Count,
            status.Chunkservers.Count - live.Count,
            status.Chunkservers.OrderBy(c => c.Url, StringComparer.Ordinal).Select(ChunkserverJson.From).ToList());
    }

    /// <summary>
    /// <code>
    /// Size      Used     Available  Use%  Live  Dead
    /// 300.0 GiB 1.2 GiB  250.3 GiB  16.6%    3     0
    /// </code>
    /// Use% is the share of the disks not free (anything on them, not only chunks); Used is bytes in chunks.
    /// </summary>
    internal static IReadOnlyList<string> Render(DfJson df, bool human)
    {
        string[] header = ["Size", "Used", "Available", "Use%", "Live", "Dead"];
        string[] values =
        [
            Sizes.Format(df.CapacityBytes, human),
            Sizes.Format(df.UsedBytes, human),
            Sizes.Format(df.FreeBytes, human),
            df.UsedPercent.ToString("0.0", CultureInfo.InvariantCulture) + "%",
            df.Live.ToString(CultureInfo.InvariantCulture),
            df.Dead.ToString(CultureInfo.InvariantCulture),
        ];
        var widths = header.Select((h, i) => Math.Max(h.Length, values[i].Length)).ToArray();
        return
        [
            string.Join("  ", header.Select((h, i) => h.PadLeft(widths[i]))),
            string.Join("  ", values.Select((v, i) => v.PadLeft(widths[i]))),
        ];
    }
}
