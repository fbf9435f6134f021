using Gfs.Master.State;

namespace Gfs.Master.Tests.State;

public class MemoryTests
{
    /// <summary>
    /// Managed heap per one-chunk file, measured at 200k files here (the 1M figure is the
    /// master benchmark's). The bound is the target; the test prints the figure.
    /// </summary>
    [Fact]
    public void OneChunkFile_CostsAtMost200BytesOfHeap()
    {
        const int Dirs = 200;
        const int FilesPerDir = 1000;
        var before = HeapBytes();
        var state = MasterStateFiller.Fill(Dirs, FilesPerDir);
        var after = HeapBytes();
        GC.KeepAlive(state);

        var perFile = (after - before) / (double)(Dirs * FilesPerDir);
        TestContext.Current.TestOutputHelper?.WriteLine($"heap per one-chunk file: {perFile:F1} bytes");
        Assert.Equal(Dirs * FilesPerDir, state.FileCount);
        Assert.Equal(Dirs * FilesPerDir, state.ChunkCount);
        Assert.InRange(perFile, 1, 200);
    }

    private static long HeapBytes()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
