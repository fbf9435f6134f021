using Gfs.Node.Chunkserver;

namespace Gfs.Node.Tests.Chunkserver;

public class ChunkTableTests
{
    [Fact]
    public void LiveLeases_ListsOnlyChunksHoldingALiveLease_AndForgetsEndedOnes()
    {
        var table = new ChunkTable();
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
        table.Retire(table.Get(20));
        Assert.Equal([10L], table.LiveLeases(now: 1_700).Select(l => l.State.Handle));
        Assert.Empty(table.LiveLeases(now: 6_000));
        Assert.Equal(0, table.LeasedCount);
    }

    [Fact]
    public async Task LiveLeases_NeverMissesALeaseGrantedWhileItPrunes()
    {
        var table = new ChunkTable();
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

    [Fact]
    public async Task EvictIdle_DropsOnlyIdleUnleasedUnlockedStates_AndLockAsyncNeverHandsOutARetiredOne()
    {
        var table = new ChunkTable();
        var idle = table.Get(1);
        var leased = table.Get(2);
        table.GrantLease(leased, version: 1, grantedAt: 0, expiresAt: 1_000);
        var locked = await table.LockAsync(3, TestContext.Current.CancellationToken);

        Assert.Equal(1, table.EvictIdle(idleMs: 0, leaseNow: 500));
        Assert.True(idle.Retired);
        Assert.Null(table.Find(1));
        Assert.Same(leased, table.Find(2));
        Assert.Same(locked, table.Find(3));
        Assert.Equal(0, table.EvictIdle(idleMs: 60_000, leaseNow: 2_000)); // recently used: kept

        // A caller that took the old state before it was retired gets the current one from LockAsync.
        var old = table.Get(4);
        await old.Serial.WaitAsync(TestContext.Current.CancellationToken);
        var waiting = table.LockAsync(4, TestContext.Current.CancellationToken);
        table.Retire(old);
        old.Serial.Release();
        var current = await waiting;
        Assert.NotSame(old, current);
        Assert.False(current.Retired);
        Assert.Same(current, table.Find(4));
        Assert.Equal(0, current.Serial.CurrentCount);

        locked.Serial.Release();
        current.Serial.Release();
        Assert.Equal(2, table.EvictIdle(idleMs: 0, leaseNow: 500)); // 3 and 4; 2 is still leased
        Assert.Equal(1, table.EvictIdle(idleMs: 0, leaseNow: 2_000)); // its lease ended
        Assert.Equal(0, table.Count);
    }
}
