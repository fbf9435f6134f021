using Gfs.Client;
using Gfs.Testing;

namespace Gfs.IntegrationTests;

/// <summary>Every small file is a chunk of its own on each replica: a chunkserver must hold far more chunks than it may keep files open.</summary>
public sealed class ManySmallFilesTests
{
    /// <summary>Descriptors process <paramref name="pid"/> holds open on chunk files (sockets and logs do not count).</summary>
    private static int OpenChunkFiles(int pid)
    {
        var count = 0;
        foreach (var fd in Directory.GetFiles($"/proc/{pid}/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.EndsWith(".chunk", StringComparison.Ordinal))
                {
                    count++;
                }
            }
            catch (IOException)
            {
                // closed while we looked
            }
        }

        return count;
    }

    [Fact]
    public async Task More_chunks_than_open_files_all_read_back_and_descriptors_stay_bounded()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await GfsCluster.StartAsync(3, chunkserverArguments: ["--heartbeat-ms", "500", "--max-open-files", "8"]);
        await using var client = new GfsClient(cluster.ClientOptions);
        await client.MkdirAsync("/small", parents: true, ct);

        // 300 files × 3 replicas on 3 servers: every server holds 300 chunks, with 8 files open at most.
        const int files = 300;
        await Parallel.ForEachAsync(Enumerable.Range(0, files), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (n, token) =>
        {
            await using var stream = await client.CreateAsync($"/small/f{n:D3}", new GfsCreateOptions(), token);
            await stream.WriteAsync(Content(n), token);
        });

        for (var i = 0; i < 3; i++)
        {
            // 8 chunks × 2 descriptors (buffered and O_DIRECT) at most; unbounded it would be 300 to 600.
            var open = OpenChunkFiles(cluster.ChunkserverProcessId(i));
            Assert.True(open is >= 1 and <= 16, $"chunkserver {i} holds {open} descriptors on chunk files after {files} chunks");
        }

        for (var n = 0; n < files; n++)
        {
            await using var reader = await client.OpenReadAsync($"/small/f{n:D3}", ct);
            var bytes = new byte[reader.Length];
            await reader.ReadExactlyAsync(bytes, ct);
            Assert.Equal(Content(n), bytes);
        }
    }

    private static byte[] Content(int n)
    {
        var bytes = new byte[4096 + n];
        new Random(n).NextBytes(bytes);
        return bytes;
    }
}
