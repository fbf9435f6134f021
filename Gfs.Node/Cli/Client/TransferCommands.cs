using System.Buffers;
using System.CommandLine;
using System.Numerics;
using System.Runtime.CompilerServices;
using Gfs.Client;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Master;

namespace Gfs.Node.Cli.Client;

/// <summary>The verbs that move file data: <c>put</c>, <c>get</c>, <c>cat</c>, <c>append</c>.</summary>
internal static class TransferCommands
{
    /// <summary>Largest record when the file's chunk size is unknown: a quarter of the default 64 MiB chunk.</summary>
    public const int DefaultMaxRecord = 16 << 20;

    public static Command Put(CliHost host)
    {
        var local = ClientCommand.PathArgument(new Argument<string>("local") { Description = "Local file to upload, or - for standard input." });
        var remote = ClientCommand.PathArgument(new Argument<string>("remote") { Description = "Destination path in Gfs (an existing directory receives the file under its local name)." });
        var force = new Option<bool>("--force", "-f") { Description = "Overwrite an existing file." };
        var parents = new Option<bool>("--parents", "-p") { Description = "Create missing parent directories." };
        var replication = new Option<int?>("--replication", "-r") { Description = "Replication goal of the new file (default 3)." };
        var chunkSize = new Option<string?>("--chunk-size") { Description = "Chunk size of the new file, a power of two (e.g. 64MiB, the default)." };
        var masters = ClientCommand.MastersOption();
        var json = ClientCommand.JsonOption();
        var command = new Command("put", "Upload a local file (or standard input) into Gfs.") { local, remote, force, parents, replication, chunkSize, masters, json };
        command.SetAction((parse, ct) =>
        {
            var target = RemotePath.Normalize(parse.GetRequiredValue(remote));
            return ClientCommand.RunAsync(host, parse.GetValue(masters), target, (fs, token) => PutAsync(
                host,
                fs,
                parse.GetRequiredValue(local),
                target,
                CreateOptions(parse.GetValue(force), parse.GetValue(parents), parse.GetValue(replication), parse.GetValue(chunkSize)),
                parse.GetValue(json),
                token), ct);
        });
        return command;
    }

    public static Command Get(CliHost host)
    {
        var remote = ClientCommand.PathArgument(new Argument<string>("remote") { Description = "File in Gfs." });
        var local = ClientCommand.PathArgument(new Argument<string>("local") { Description = "Local destination (an existing directory receives the file under its Gfs name), or - for standard output." });
        var force = new Option<bool>("--force", "-f") { Description = "Overwrite an existing local file." };
        var masters = ClientCommand.MastersOption();
        var json = ClientCommand.JsonOption();
        var command = new Command("get", "Download a file from Gfs.") { remote, local, force, masters, json };
        command.SetAction((parse, ct) =>
        {
            var source = RemotePath.Normalize(parse.GetRequiredValue(remote));
            return ClientCommand.RunAsync(host, parse.GetValue(masters), source, (fs, token) => GetAsync(
                host, fs, source, parse.GetRequiredValue(local), parse.GetValue(force), parse.GetValue(json), token), ct);
        });
        return command;
    }

    public static Command Cat(CliHost host)
    {
        var paths = ClientCommand.PathArgument(new Argument<string[]>("remote") { Description = "Files in Gfs, written to standard output one after another.", Arity = ArgumentArity.OneOrMore });
        var masters = ClientCommand.MastersOption();
        var command = new Command("cat", "Write files from Gfs to standard output.") { paths, masters };
        command.SetAction((parse, ct) =>
        {
            var files = parse.GetRequiredValue(paths).Select(RemotePath.Normalize).ToList();
            return ClientCommand.RunAsync(host, parse.GetValue(masters), files[0], async (fs, token) =>
            {
                var stdout = host.OpenStandardOutput();
                foreach (var file in files)
                {
                    try
                    {
                        await using var reader = await fs.OpenReadAsync(file, token);
                        await StreamCopy.CopyAsync(reader, stdout, null, token);
                    }
                    catch (GfsException e)
                    {
                        throw new CliException(e.Code, e.Message, file);
                    }
                }

                await stdout.FlushAsync(token);
                return ExitCodes.Ok;
            }, ct);
        });
        return command;
    }

    public static Command Append(CliHost host)
    {
        var remote = ClientCommand.PathArgument(new Argument<string>("remote") { Description = "File in Gfs (created with default settings when missing)." });
        var local = ClientCommand.PathArgument(new Argument<string>("local") { Description = "Local file to append, or - for standard input." });
        var lines = new Option<bool>("--lines") { Description = "Append each line (with its newline) as its own record, in order, instead of the whole input as one record." };
        var masters = ClientCommand.MastersOption();
        var json = ClientCommand.JsonOption();
        var command = new Command("append", "Append the input to a file as one record (or one record per line) with at-most-once record append.") { remote, local, lines, masters, json };
        command.SetAction((parse, ct) =>
        {
            var target = RemotePath.Normalize(parse.GetRequiredValue(remote));
            return ClientCommand.RunAsync(host, parse.GetValue(masters), target, (fs, token) => AppendAsync(
                host, fs, target, parse.GetRequiredValue(local), parse.GetValue(lines), parse.GetValue(json), token), ct);
        });
        return command;
    }

    internal static GfsCreateOptions CreateOptions(bool force, bool parents, int? replication, string? chunkSize)
    {
        var options = new GfsCreateOptions { Overwrite = force, CreateParents = parents };
        if (replication is { } goal)
        {
            options = goal is >= 1 and <= 64 ? options with { Replication = goal } : throw ClientCommand.Usage($"--replication must be between 1 and 64, not {goal}");
        }

        if (chunkSize is not null)
        {
            if (!Sizes.TryParse(chunkSize, out var bytes) || bytes <= 0 || bytes > 1 << 30 || !BitOperations.IsPow2(bytes))
            {
                throw ClientCommand.Usage($"--chunk-size must be a power of two up to 1GiB (e.g. 64MiB), not '{chunkSize}'");
            }

            options = options with { ChunkSize = (int)bytes };
        }

        return options;
    }

    internal static async Task<int> PutAsync(CliHost host, IGfsFileSystem fs, string local, string remote, GfsCreateOptions options, bool json, CancellationToken cancellationToken)
    {
        var fromStdin = local == "-";
        if (!fromStdin && Directory.Exists(local))
        {
            throw new CliException(ErrorCode.IsADirectory, "is a directory (put uploads one file)", local);
        }

        var target = await PutTargetAsync(fs, remote, fromStdin ? null : Path.GetFileName(local), cancellationToken);
        await using var source = fromStdin ? host.OpenStandardInput() : OpenLocalForRead(local);
        long? total = fromStdin || !source.CanSeek ? null : source.Length;
        var progress = json ? null : new TransferProgress(host.Error, host.ErrorIsTerminal, host.Time, $"put {target}", total);
        var started = host.Time.GetTimestamp();

        GfsWriteStream? writer = null;
        long bytes;
        try
        {
            writer = await fs.CreateAsync(target, options, cancellationToken);
            bytes = await StreamCopy.CopyAsync(source, writer, progress, cancellationToken);
            await writer.FlushAsync(cancellationToken);
            await writer.DisposeAsync();
        }
        catch
        {
            progress?.Abort();
            if (writer is not null)
            {
                // A half-written file is worse than none: remove what this put created.
                await DisposeQuietlyAsync(writer);
                await DeleteQuietlyAsync(fs, target);
            }

            throw;
        }

        progress?.Complete(bytes);
        WriteTransferJson(host, json, local, target, bytes, started);

        return ExitCodes.Ok;
    }

    internal static async Task<int> GetAsync(CliHost host, IGfsFileSystem fs, string remote, string local, bool force, bool json, CancellationToken cancellationToken)
    {
        var started = host.Time.GetTimestamp();
        await using var reader = await fs.OpenReadAsync(remote, cancellationToken);
        long? total = reader.CanSeek ? reader.Length : null;
        long bytes;
        string destination;
        if (local == "-")
        {
            destination = "-";
            var stdout = host.OpenStandardOutput();
            bytes = await StreamCopy.CopyAsync(reader, stdout, null, cancellationToken);
            await stdout.FlushAsync(cancellationToken);
        }
        else
        {
            destination = Directory.Exists(local) ? Path.Combine(local, RemotePath.Name(remote)) : local;
            if (!force && File.Exists(destination))
            {
                throw new CliException(ErrorCode.AlreadyExists, "the local file exists (use -f to overwrite)", destination);
            }

            // Written beside the destination and moved into place: a failed get leaves no partial file.
            var directory = Path.GetDirectoryName(Path.GetFullPath(destination))!;
            var partial = Path.Combine(directory, $".{Path.GetFileName(destination)}.gfs-{Guid.NewGuid():N}.part");
            var progress = json ? null : new TransferProgress(host.Error, host.ErrorIsTerminal, host.Time, $"get {remote}", total);
            try
            {
                await using (var file = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
                {
                    bytes = await StreamCopy.CopyAsync(reader, file, progress, cancellationToken);
                }

                File.Move(partial, destination, overwrite: true);
            }
            catch
            {
                progress?.Abort();
                File.Delete(partial);
                throw;
            }

            progress?.Complete(bytes);
        }

        WriteTransferJson(host, json, remote, destination, bytes, started);

        return ExitCodes.Ok;
    }

    internal static async Task<int> AppendAsync(CliHost host, IGfsFileSystem fs, string remote, string local, bool lines, bool json, CancellationToken cancellationToken)
    {
        var maxRecord = await PrepareAppendAsync(fs, remote, cancellationToken);
        await using var source = local == "-" ? host.OpenStandardInput() : OpenLocalForRead(local);
        var appended = new List<AppendedRecordJson>();
        if (lines)
        {
            await foreach (var record in ReadLinesAsync(source, maxRecord, cancellationToken))
            {
                var offset = await fs.AppendRecordAsync(remote, record, cancellationToken);
                appended.Add(new AppendedRecordJson(offset, record.Length));
            }
        }
        else
        {
            var buffer = ArrayPool<byte>.Shared.Rent(maxRecord + 1);
            try
            {
                var length = await StreamCopy.FillAsync(source, buffer.AsMemory(0, maxRecord + 1), cancellationToken);
                if (length > maxRecord)
                {
                    throw new CliException(ErrorCode.InvalidArgument, $"the input is larger than the largest record of this file ({maxRecord} bytes, a quarter of its chunk size); use --lines, or put");
                }

                if (length > 0)
                {
                    var offset = await fs.AppendRecordAsync(remote, buffer.AsMemory(0, length), cancellationToken);
                    appended.Add(new AppendedRecordJson(offset, length));
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        if (json)
        {
            CliJson.Write(host.Out, new AppendJson(remote, appended));
        }

        return ExitCodes.Ok;
    }

    /// <summary>Each line of <paramref name="source"/> including its newline (the last one may lack it), as bytes: no decoding.</summary>
    /// <remarks>The memory returned is reused for the next line: use it before asking for the next.</remarks>
    internal static async IAsyncEnumerable<ReadOnlyMemory<byte>> ReadLinesAsync(Stream source, int maxRecord, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var input = ArrayPool<byte>.Shared.Rent(1 << 20);
        var record = ArrayPool<byte>.Shared.Rent(maxRecord);
        var length = 0;
        try
        {
            while (true)
            {
                var read = await source.ReadAsync(input, cancellationToken);
                if (read == 0)
                {
                    break;
                }

                var rest = input.AsMemory(0, read);
                while (rest.Length > 0)
                {
                    var newline = rest.Span.IndexOf((byte)'\n');
                    var take = newline < 0 ? rest.Length : newline + 1;
                    if (length + take > maxRecord)
                    {
                        throw new CliException(ErrorCode.InvalidArgument, $"a line is longer than the largest record of this file ({maxRecord} bytes, a quarter of its chunk size)");
                    }

                    rest[..take].CopyTo(record.AsMemory(length));
                    length += take;
                    rest = rest[take..];
                    if (newline >= 0)
                    {
                        yield return record.AsMemory(0, length);
                        length = 0;
                    }
                }
            }

            if (length > 0)
            {
                yield return record.AsMemory(0, length);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(input);
            ArrayPool<byte>.Shared.Return(record);
        }
    }

    /// <summary>Makes sure the file exists (creating it like <c>hdfs dfs -appendToFile</c> does) and returns its largest record.</summary>
    private static async Task<int> PrepareAppendAsync(IGfsFileSystem fs, string remote, CancellationToken cancellationToken)
    {
        EntryAttributes attributes;
        try
        {
            attributes = await fs.StatAsync(remote, cancellationToken);
        }
        catch (GfsException e) when (e.Code == ErrorCode.NotFound)
        {
            try
            {
                var created = await fs.CreateAsync(remote, new GfsCreateOptions(), cancellationToken);
                await created.DisposeAsync();
            }
            catch (GfsException again) when (again.Code == ErrorCode.AlreadyExists)
            {
                // Another appender created it first: fine.
            }

            attributes = await fs.StatAsync(remote, cancellationToken);
        }

        if (attributes.Kind == EntryKind.Directory)
        {
            throw new GfsException(ErrorCode.IsADirectory, "is a directory");
        }

        return attributes.ChunkSize > 0 ? attributes.ChunkSize / 4 : DefaultMaxRecord;
    }

    /// <summary>Where put writes: into an existing directory (or a path ending in /) under the local name, else the path itself.</summary>
    private static async Task<string> PutTargetAsync(IGfsFileSystem fs, string remote, string? localName, CancellationToken cancellationToken)
    {
        var isDirectory = remote.EndsWith('/');
        if (!isDirectory)
        {
            try
            {
                isDirectory = (await fs.StatAsync(remote, cancellationToken)).Kind == EntryKind.Directory;
            }
            catch (GfsException e) when (e.Code == ErrorCode.NotFound)
            {
                return remote;
            }
        }

        if (!isDirectory)
        {
            return remote;
        }

        return localName is { Length: > 0 }
            ? RemotePath.Combine(remote, localName)
            : throw new GfsException(ErrorCode.IsADirectory, "is a directory: name the file to write standard input to");
    }

    private static FileStream OpenLocalForRead(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CliException(ErrorCode.NotFound, "no such local file", path);
        }
        catch (UnauthorizedAccessException)
        {
            throw new CliException(ErrorCode.PermissionDenied, "permission denied", path);
        }
    }

    private static async Task DisposeQuietlyAsync(Stream stream)
    {
        try
        {
            await stream.DisposeAsync();
        }
        catch (Exception)
        {
            // The copy already failed; that error is the one to report.
        }
    }

    private static async Task DeleteQuietlyAsync(IGfsFileSystem fs, string path)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await fs.DeleteAsync(path, false, timeout.Token);
        }
        catch (Exception)
        {
            // Best effort: the original error is reported.
        }
    }

    /// <summary>With <c>--json</c>, the transfer's one JSON line: what went where, how much, how fast.</summary>
    private static void WriteTransferJson(CliHost host, bool json, string source, string destination, long bytes, long started)
    {
        if (json)
        {
            var elapsed = host.Time.GetElapsedTime(started);
            CliJson.Write(host.Out, new TransferJson(source, destination, bytes, elapsed.TotalSeconds, Sizes.MegabytesPerSecond(bytes, elapsed)));
        }
    }
}
