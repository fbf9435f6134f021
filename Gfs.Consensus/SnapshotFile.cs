using System.Globalization;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace Gfs.Consensus;

/// <summary>A committed snapshot on disk, <c>{index}-{term}.snap</c>; DotNext streams it to lagging followers.</summary>
internal sealed class SnapshotFile : ISnapshot
{
    public const string Extension = ".snap";

    public SnapshotFile(string path, long index, long term)
    {
        Path = path;
        Index = index;
        Term = term;
    }

    public string Path { get; }

    public long Index { get; }

    public long Term { get; }

    public long? Length => new FileInfo(Path).Length;

    bool IDataTransferObject.IsReusable => true;

    public static string FileName(long index, long term) => string.Create(CultureInfo.InvariantCulture, $"{index}-{term}{Extension}");

    public static SnapshotFile? TryParse(string path)
    {
        var name = System.IO.Path.GetFileName(path);
        if (!name.EndsWith(Extension, StringComparison.Ordinal))
        {
            return null;
        }

        var parts = name[..^Extension.Length].Split('-');
        return parts.Length == 2
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var term)
                ? new SnapshotFile(path, index, term)
                : null;
    }

    public Stream OpenRead() => new FileStream(Path, new FileStreamOptions
    {
        Mode = FileMode.Open,
        Access = FileAccess.Read,
        Share = FileShare.Read | FileShare.Delete,
        BufferSize = 0,
        Options = FileOptions.SequentialScan,
    });

    async ValueTask IDataTransferObject.WriteToAsync<TWriter>(TWriter writer, CancellationToken token)
    {
        var stream = new FileStream(Path, new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.Read | FileShare.Delete,
            BufferSize = 64 * 1024,
            Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
        });
        await using (stream.ConfigureAwait(false))
        {
            await writer.CopyFromAsync(stream, null, token).ConfigureAwait(false);
        }
    }

    long IRaftLogEntry.Term => Term;

    long ISnapshot.Index => Index;
}
