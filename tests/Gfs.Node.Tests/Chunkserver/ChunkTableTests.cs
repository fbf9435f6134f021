using Gfs.Node.Chunkserver;

namespace Gfs.Node.Tests.Chunkserver;

public class ChunkTableTests
{
    [Fact]
    public void LiveLeases_ListsOnlyChunksHoldingALiveLease_AndForgetsEndedOnes()
    {
        var table = new ChunkTable(appendTableSize: 4);
        for (var handle = 1L; handle <= 1000; handle++)
        {
            table.Get(handle); // held, never leased
        }

        table.GrantLease(table.Get(10), version: 3, grantedAt: 100, expiresAt: 1_000);
        table.GrantLease(table.Get(20), version: 5, grantedAt: 100, expiresAt: 2_000);
        table.GrantLease(table.Get(30), version: 7, grantedAt: 100, expiresAt: 3_000);
        table.Get(30).DropLease();

        var live = table.LiveLeases(now: 500);
        Assert.Equal([(10L, 3L, 1_000L), (20L, 5L, 2_000L)], live.Select(l => (l.State.Handle, l.Version, l.ExpiresAt)).Order());
        Assert.Equal(2, table.LeasedCount); // the dropped lease left the list

        Assert.Equal([20L], table.LiveLeases(now: 1_500).Select(l => l.State.Handle));
        Assert.Equal(1, table.LeasedCount);

        // A new grant lists the chunk again; a deleted chunk leaves the list.
        table.GrantLease(table.Get(10), version: 4, grantedAt: 1_600, expiresAt: 5_000);
        Assert.Equal([10L, 20L], table.LiveLeases(now: 1_700).Select(l => l.State.Handle).Order());
        table.Forget(20);
        Assert.Equal([10L], table.LiveLeases(now: 1_700).Select(l => l.State.Handle));
        Assert.Empty(table.LiveLeases(now: 6_000));
        Assert.Equal(0, table.LeasedCount);
    }

    [Fact]
    public async Task LiveLeases_NeverMissesALeaseGrantedWhileItPrunes()
    {
        var table = new ChunkTable(appendTableSize: 4);
        var state = table.Get(1);
        var done = false;
        var prunes = 0;
        var pruner = Task.Run(() =>
        {
            while (!Volatile.Read(ref done))
            {
                table.LiveLeases(now: 10);
                prunes++;
            }
        });

        // Leases that have ended by now (10) alternate with running ones; the pruner keeps
        // dropping the ended ones. Every running lease must be listed right after its grant.
        var missing = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var running = i % 2 == 1;
            table.GrantLease(state, version: i, grantedAt: 0, expiresAt: running ? long.MaxValue : 1);
            if (running && !table.LiveLeases(now: 10).Any(l => l.State == state && l.Version == i))
            {
                missing++;
            }
        }

        Volatile.Write(ref done, true);
        await pruner;
        Assert.True(prunes > 0);
        Assert.Equal(0, missing);
    }
}
