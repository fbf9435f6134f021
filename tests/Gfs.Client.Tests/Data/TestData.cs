using Gfs.Client.Data;

namespace Gfs.Client.Tests.Data;

internal static class TestData
{
    public const int Piece = 64 * 1024;

    public static GfsClientOptions Options(TimeProvider? time = null) => new()
    {
        Masters = [new Uri("http://127.0.0.1:1/")],
        ClientHost = "test",
        PieceSize = Piece,
        InlineBytes = 0, // the push path; tests of inline data turn it on
        WritePiecesInFlight = 2,
        ReadAhead = 2,
        InitialRetryDelay = TimeSpan.FromMilliseconds(1),
        MaxRetryDelay = TimeSpan.FromMilliseconds(4),
        OperationTimeout = TimeSpan.FromSeconds(10),
        Time = time ?? TimeProvider.System,
    };

    public static ClientCore Core(FakeCluster cluster, GfsClientOptions? options = null) => new(options ?? Options(), cluster, clientId: 77);

    public static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Everything the file holds on <paramref name="server"/>, chunk after chunk.</summary>
    public static byte[] FileOn(FakeCluster cluster, string path, FakeServer server)
    {
        var all = new List<byte>();
        for (var i = 0; i < cluster.ChunkCount(path); i++)
        {
            all.AddRange(cluster.Content(path, i, server));
        }

        return [.. all];
    }
}
