using Gfs.Node.Rpc;

namespace Gfs.Node.Tests.Rpc;

public sealed class LargeBlockMemoryPoolTests
{
    [Fact]
    public void Rent_GivesWholeBlocks_AndReusesReturnedOnes()
    {
        using var pool = new LargeBlockMemoryPool(64 * 1024, maxPooled: 4);

        var first = pool.Rent();
        Assert.Equal(64 * 1024, first.Memory.Length);
        Assert.Equal(64 * 1024, pool.MaxBufferSize);
        first.Memory.Span.Fill(7);
        var memory = first.Memory;
        first.Dispose();

        using var second = pool.Rent(100);
        Assert.True(second.Memory.Span.Overlaps(memory.Span), "a returned block is handed out again");
    }

    [Fact]
    public void Rent_LargerThanABlock_Throws()
    {
        using var pool = new LargeBlockMemoryPool(8192, maxPooled: 4);

        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(8193));
    }

    [Fact]
    public void Return_KeepsAtMostMaxPooledBlocks()
    {
        using var pool = new LargeBlockMemoryPool(4096, maxPooled: 2);
        var blocks = Enumerable.Range(0, 5).Select(_ => pool.Rent()).ToList();
        var memories = blocks.Select(b => b.Memory).ToList();
        foreach (var block in blocks)
        {
            block.Dispose();
        }

        // Only two blocks were kept: the next two rents reuse them, the third is new.
        var again = Enumerable.Range(0, 3).Select(_ => pool.Rent()).ToList();
        var reused = again.Count(a => memories.Any(m => a.Memory.Span.Overlaps(m.Span)));
        Assert.Equal(2, reused);
    }

    [Fact]
    public void Dispose_Twice_ReturnsTheBlockOnce()
    {
        using var pool = new LargeBlockMemoryPool(4096, maxPooled: 8);
        var block = pool.Rent();
        var memory = block.Memory;
        block.Dispose();
        block.Dispose();

        using var a = pool.Rent();
        using var b = pool.Rent();
        Assert.True(a.Memory.Span.Overlaps(memory.Span));
        Assert.False(b.Memory.Span.Overlaps(memory.Span), "a block disposed twice must not be pooled twice");
    }
}
