using System.IO.Pipes;
using Gfs.Testing;

namespace Gfs.Consensus.Tests;

/// <summary>Snapshot durability must not rely on FileStream.Flush(true), which ignores a failed fsync on Linux.</summary>
public sealed class PosixSyncTests
{
    [Fact]
    public void SyncingFileStream_WritesAndSyncsEveryByte()
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("snapshot.tmp");
        var data = new byte[(3 << 20) + 17];
        new Random(5).NextBytes(data);

        using (var stream = new SyncingFileStream(path, syncEvery: 1 << 20))
        {
            stream.Write(data);
            stream.Flush();
        }

        Posix.SyncDirectory(temp.Path);
        Assert.Equal(data, File.ReadAllBytes(path));
    }

    [Fact]
    public void Sync_ThatTheKernelRefuses_Throws_InsteadOfPassingSilently()
    {
        // fsync on a pipe fails with EINVAL: the same path a disk's EIO takes.
        using var pipe = new AnonymousPipeServerStream(PipeDirection.Out);

        var e = Assert.Throws<IOException>(() => Posix.Sync(pipe.SafePipeHandle, "a pipe"));

        Assert.Contains("fsync of a pipe failed", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SyncDirectory_OfAMissingDirectory_Throws()
    {
        using var temp = new TempDirectory();

        Assert.Throws<IOException>(() => Posix.SyncDirectory(temp.Combine("missing")));
    }
}
