using Gfs.Storage.Io;
using Gfs.Testing;

namespace Gfs.Storage.Tests;

/// <summary>A store in a temp directory that can be closed and reopened (recovery) by tests.</summary>
internal sealed class StoreHarness : IAsyncDisposable
{
    public const long SmallChunk = 1024 * 1024; // 16 blocks

    private readonly TempDirectory? temp;

    public StoreHarness(long chunkSize = SmallChunk, string? directory = null)
    {
        if (directory is null)
        {
            temp = new TempDirectory("gfs-storage");
            directory = temp.Path;
        }

        Options = new ChunkStoreOptions
        {
            Directory = directory,
            ChunkSize = chunkSize,
            WalSegmentSize = 1024 * 1024,
            IndexMemorySize = 4 * 1024 * 1024,
            Failpoints = Faults,
        };
    }

    public ChunkStoreOptions Options { get; }

    public Failpoints Faults { get; } = new();

    public ChunkStore? Store { get; private set; }

    public string Directory => Options.Directory;

    public string ChunkPath(long handle) => Path.Combine(Directory, "chunks", $"{handle:x16}.chunk");

    public async Task<ChunkStore> OpenAsync()
    {
        Store = await ChunkStore.OpenAsync(Options);
        return Store;
    }

    public async Task CloseAsync()
    {
        if (Store is not null)
        {
            await Store.DisposeAsync();
            Store = null;
        }
    }

    public async Task<ChunkStore> ReopenAsync()
    {
        await CloseAsync();
        return await OpenAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
        temp?.Dispose();
    }

    public static byte[] Bytes(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    public static async Task<byte[]> ReadAllAsync(IChunkStore store, long handle)
    {
        var info = store.GetChunk(handle) ?? throw new InvalidOperationException("no such chunk");
        var buffer = new byte[info.Length];
        var n = await store.ReadAsync(handle, 0, buffer);
        Assert.Equal(info.Length, n);
        return buffer;
    }
}
