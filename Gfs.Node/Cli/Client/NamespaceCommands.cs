using System.CommandLine;
using System.Globalization;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Master;

namespace Gfs.Node.Cli.Client;

/// <summary>The verbs on the namespace: <c>ls</c>, <c>stat</c>, <c>mkdir</c>, <c>rm</c>, <c>mv</c>, <c>du</c>, <c>setrep</c>.</summary>
internal static class NamespaceCommands
{
    public static Command Ls(CliHost host)
    {
        var path = ClientCommand.PathArgument(new Argument<string>("path") { Description = "Directory or file (default /).", DefaultValueFactory = _ => "/" });
        var recursive = new Option<bool>("--recursive", "-R") { Description = "List subdirectories too (entries are printed with their full paths)." };
        var longFormat = new Option<bool>("--long", "-l") { Description = "Kind, replication, size, modification time and name." };
        var human = ClientCommand.HumanOption();
        var masters = ClientCommand.MastersOption();
        var json = ClientCommand.JsonOption();
        var command = new Command("ls", "List a directory.") { path, recursive, longFormat, human, masters, json };
        command.SetAction((parse, ct) =>
        {
            var target = RemotePath.Normalize(parse.GetRequiredValue(path));
            return ClientCommand.RunAsync(host, parse.GetValue(masters), target, (fs, token) => LsAsync(
                host, fs, target, parse.GetValue(recursive), parse.GetValue(longFormat), parse.GetValue(human), parse.GetValue(json), token), ct);
        });
        return command;
    }

    public static Command Stat(CliHost host)
    {
        var path = ClientCommand.PathArgument(new Argument<string>("path") { Description = "File or directory." });
        var masters = ClientCommand.MastersOption();
        var json = ClientCommand.JsonOption();
        var command = new Command("stat", "Show the attributes of a file or directory.") { path, masters, json };
        command.SetAction((parse, ct) =>
        {
            var target = RemotePath.Normalize(parse.GetRequiredValue(path));
            return ClientCommand.RunAsync(host, parse.GetValue(masters), target, async (fs, token) =>
            {
                var entry = EntryJson.From(target, await fs.StatAsync(target, token));
                if (parse.GetValue(json))
                {
                    CliJson.Write(host.Out, entry);
                }
                else
                {
                    WriteStat(host.Out, entry);
                }

                return ExitCodes.Ok;
            }, ct);
        });
        return command;
    }

    public static Command Mkdir(CliHost host)
    {
        var paths = ClientCommand.PathArgument(new Argument<string[]>("path") { Description = "Directories to create.", Arity = ArgumentArity.OneOrMore });
        var parents = new Option<bool>("--parents", "-p") { Description = "Create missing parents too; no error when the directory exists." };
        var masters = ClientCommand.MastersOption();
        var command = new Command("mkdir", "Create directories.") { paths, parents, masters };
        command.SetAction((parse, ct) => ForEachPathAsync(host, parse.GetValue(masters), parse.GetRequiredValue(paths), (fs, p, token) => fs.MkdirAsync(p, parse.GetValue(parents), token), ct));
        return command;
    }

    public static Command Rm(CliHost host)
    {
        var paths = ClientCommand.PathArgument(new Argument<string[]>("path") { Description = "Files or directories to delete.", Arity = ArgumentArity.OneOrMore });
        var recursive = new Option<bool>("--recursive", "-r", "-R") { Description = "Delete directories with everything in them." };
        var force = new Option<bool>("--force", "-f") { Description = "No error when a path does not exist." };
        var masters = ClientCommand.MastersOption();
        var command = new Command("rm", "Delete files and directories.") { paths, recursive, force, masters };
        command.SetAction((parse, ct) => ForEachPathAsync(host, parse.GetValue(masters), parse.GetRequiredValue(paths), async (fs, p, token) =>
        {
            try
            {
                await fs.DeleteAsync(p, parse.GetValue(recursive), token);
            }
            catch (GfsException e) when (e.Code == ErrorCode.NotFound && parse.GetValue(force))
            {
                // rm -f: already gone is fine.
            }
        }, ct));
        return command;
    }

    public static Command Mv(CliHost host)
    {
        var source = ClientCommand.PathArgument(new Argument<string>("source") { Description = "File or directory to move." });
        var destination = ClientCommand.PathArgument(new Argument<string>("destination") { Description = "New path (an existing directory receives the source under its name)." });
        var masters = ClientCommand.MastersOption();
        var command = new Command("mv", "Rename or move a file or directory (atomic).") { source, destination, masters };
        command.SetAction((parse, ct) =>
        {
            var from = RemotePath.Normalize(parse.GetRequiredValue(source));
            var to = RemotePath.Normalize(parse.GetRequiredValue(destination));
            return ClientCommand.RunAsync(host, parse.GetValue(masters), from, async (fs, token) =>
            {
                await fs.RenameAsync(from, await IntoDirectoryAsync(fs, to, RemotePath.Name(from), token), token);
                return ExitCodes.Ok;
            }, ct);
        });
        return command;
    }

    public static Command Du(CliHost host)
    {
        var path = ClientCommand.PathArgument(new Argument<string>("path") { Description = "Directory or file (default /).", DefaultValueFactory = _ => "/" });
        var summary = new Option<bool>("--summary", "-s") { Description = "One total for the path instead of one line per entry in it." };
        var human = ClientCommand.HumanOption();
        var masters = ClientCommand.MastersOption();
        var json = ClientCommand.JsonOption();
        var command = new Command("du", "Bytes used under a path (file sizes, and times their replication).") { path, summary, human, masters, json };
        command.SetAction((parse, ct) =>
        {
            var target = RemotePath.Normalize(parse.GetRequiredValue(path));
            return ClientCommand.RunAsync(host, parse.GetValue(masters), target, (fs, token) => DuAsync(
                host, fs, target, parse.GetValue(summary), parse.GetValue(human), parse.GetValue(json), token), ct);
        });
        return command;
    }

    public static Command Setrep(CliHost host)
    {
        var goal = new Argument<int>("replication") { Description = "The new replication goal." };
        var path = ClientCommand.PathArgument(new Argument<string>("path") { Description = "File, or directory (every file under it)." });
        var masters = ClientCommand.MastersOption();
        var command = new Command("setrep", "Change the replication goal of a file, or of every file under a directory.") { goal, path, masters };
        command.SetAction((parse, ct) =>
        {
            var target = RemotePath.Normalize(parse.GetRequiredValue(path));
            var replication = parse.GetValue(goal);
            return ClientCommand.RunAsync(host, parse.GetValue(masters), target, async (fs, token) =>
            {
                if (replication is < 1 or > 64)
                {
                    throw ClientCommand.Usage($"replication must be between 1 and 64, not {replication}");
                }

                var entry = await fs.StatAsync(target, token);
                if (entry.Kind == EntryKind.File)
                {
                    await fs.SetReplicationAsync(target, replication, token);
                    return ExitCodes.Ok;
                }

                await foreach (var (filePath, file) in WalkAsync(fs, target, token))
                {
                    if (file.Kind == EntryKind.File)
                    {
                        await fs.SetReplicationAsync(filePath, replication, token);
                    }
                }

                return ExitCodes.Ok;
            }, ct);
        });
        return command;
    }

    internal static async Task<int> LsAsync(CliHost host, IGfsFileSystem fs, string path, bool recursive, bool longFormat, bool human, bool json, CancellationToken cancellationToken)
    {
        var root = await fs.StatAsync(path, cancellationToken);
        var entries = new List<EntryJson>();
        if (root.Kind == EntryKind.File)
        {
            entries.Add(EntryJson.From(path, root));
        }
        else if (recursive)
        {
            await foreach (var (entryPath, entry) in WalkAsync(fs, path, cancellationToken))
            {
                entries.Add(EntryJson.From(entryPath, entry));
            }
        }
        else
        {
            await foreach (var entry in fs.ListAsync(path, cancellationToken))
            {
                entries.Add(EntryJson.From(RemotePath.Combine(path, entry.Name), entry));
            }
        }

        if (json)
        {
            CliJson.Write(host.Out, new ListJson(entries));
            return ExitCodes.Ok;
        }

        // Full paths when listing recursively or naming a file; names inside one directory.
        var showPaths = recursive || root.Kind == EntryKind.File;
        if (!longFormat)
        {
            foreach (var entry in entries)
            {
                host.Out.WriteLine(showPaths ? entry.Path : entry.Name);
            }

            return ExitCodes.Ok;
        }

        var sizes = entries.Select(e => e.Kind == "directory" ? "-" : Sizes.Format(e.Size, human)).ToList();
        var width = sizes.Count == 0 ? 0 : sizes.Max(s => s.Length);
        for (var i = 0; i < entries.Count; i++)
        {
            host.Out.WriteLine(LongLine(entries[i], sizes[i], width, showPaths));
        }

        return ExitCodes.Ok;
    }

    /// <summary><c>-  3  1073741824  2025-01-31 12:00  big.iso</c> (d for directories, whose replication and size show as -).</summary>
    internal static string LongLine(EntryJson entry, string size, int sizeWidth, bool showPath)
    {
        var directory = entry.Kind == "directory";
        var modified = DateTimeOffset.FromUnixTimeMilliseconds(entry.ModifiedUnixMs).UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
        var replication = directory ? "-" : entry.Replication.ToString(CultureInfo.InvariantCulture);
        return $"{(directory ? 'd' : '-')}  {replication,2}  {size.PadLeft(sizeWidth)}  {modified}  {(showPath ? entry.Path : entry.Name)}";
    }

    internal static void WriteStat(TextWriter writer, EntryJson entry)
    {
        writer.WriteLine($"path: {entry.Path}");
        writer.WriteLine($"kind: {entry.Kind}");
        if (entry.Kind == "file")
        {
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"size: {entry.Size} ({Sizes.Human(entry.Size)})"));
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"replication: {entry.Replication}"));
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"chunk size: {entry.ChunkSize} ({Sizes.Human(entry.ChunkSize)})"));
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"chunks: {entry.Count}"));
        }
        else
        {
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"entries: {entry.Count}"));
        }

        writer.WriteLine($"modified: {entry.Modified}");
    }

    internal static async Task<int> DuAsync(CliHost host, IGfsFileSystem fs, string path, bool summary, bool human, bool json, CancellationToken cancellationToken)
    {
        var root = await fs.StatAsync(path, cancellationToken);
        var rows = new List<DuEntryJson>();
        if (root.Kind == EntryKind.File)
        {
            rows.Add(new DuEntryJson(path, root.Size, root.Size * root.Goal, 1, 0));
        }
        else if (summary)
        {
            rows.Add(await SumAsync(fs, path, cancellationToken));
        }
        else
        {
            await foreach (var entry in fs.ListAsync(path, cancellationToken))
            {
                var child = RemotePath.Combine(path, entry.Name);
                rows.Add(entry.Kind == EntryKind.File
                    ? new DuEntryJson(child, entry.Size, entry.Size * entry.Goal, 1, 0)
                    : await SumAsync(fs, child, cancellationToken));
            }
        }

        if (json)
        {
            CliJson.Write(host.Out, new DuJson(rows));
            return ExitCodes.Ok;
        }

        var sizes = rows.Select(r => Sizes.Format(r.Size, human)).ToList();
        var replicated = rows.Select(r => Sizes.Format(r.ReplicatedSize, human)).ToList();
        var sizeWidth = sizes.Count == 0 ? 0 : sizes.Max(s => s.Length);
        var replicatedWidth = replicated.Count == 0 ? 0 : replicated.Max(s => s.Length);
        for (var i = 0; i < rows.Count; i++)
        {
            host.Out.WriteLine($"{sizes[i].PadLeft(sizeWidth)}  {replicated[i].PadLeft(replicatedWidth)}  {rows[i].Path}");
        }

        return ExitCodes.Ok;
    }

    /// <summary>Totals of everything under the directory <paramref name="path"/>, summed here from the listings.</summary>
    internal static async Task<DuEntryJson> SumAsync(IGfsFileSystem fs, string path, CancellationToken cancellationToken)
    {
        long size = 0, replicated = 0, files = 0, directories = 0;
        await foreach (var (_, entry) in WalkAsync(fs, path, cancellationToken))
        {
            if (entry.Kind == EntryKind.File)
            {
                size += entry.Size;
                replicated += entry.Size * entry.Goal;
                files++;
            }
            else
            {
                directories++;
            }
        }

        return new DuEntryJson(path, size, replicated, files, directories);
    }

    /// <summary>Every entry under <paramref name="directory"/>, depth first: each directory, then what it holds.</summary>
    internal static async IAsyncEnumerable<(string Path, EntryAttributes Entry)> WalkAsync(
        IGfsFileSystem fs, string directory, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var entries = new List<EntryAttributes>();
        await foreach (var entry in fs.ListAsync(directory, cancellationToken))
        {
            entries.Add(entry);
        }

        foreach (var entry in entries)
        {
            var entryPath = RemotePath.Combine(directory, entry.Name);
            yield return (entryPath, entry);
            if (entry.Kind == EntryKind.Directory)
            {
                await foreach (var inner in WalkAsync(fs, entryPath, cancellationToken))
                {
                    yield return inner;
                }
            }
        }
    }

    private static async Task<string> IntoDirectoryAsync(IGfsFileSystem fs, string destination, string name, CancellationToken cancellationToken)
    {
        try
        {
            var entry = await fs.StatAsync(destination, cancellationToken);
            return entry.Kind == EntryKind.Directory ? RemotePath.Combine(destination, name) : destination;
        }
        catch (GfsException e) when (e.Code == ErrorCode.NotFound)
        {
            return destination;
        }
    }

    private static Task<int> ForEachPathAsync(CliHost host, string? masters, string[] paths, Func<IGfsFileSystem, string, CancellationToken, Task> action, CancellationToken cancellationToken)
    {
        var targets = paths.Select(RemotePath.Normalize).ToList();
        return ClientCommand.RunAsync(host, masters, targets[0], async (fs, token) =>
        {
            foreach (var target in targets)
            {
                try
                {
                    await action(fs, target, token);
                }
                catch (GfsException e)
                {
                    throw new CliException(e.Code, e.Message, target);
                }
            }

            return ExitCodes.Ok;
        }, cancellationToken);
    }
}
