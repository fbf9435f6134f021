using System.IO.Hashing;

namespace Gfs.Master.State;

// Two open-addressing tables (linear probing, backward-shift deletion) that store only ids + 1; keys
// are read from the inode and chunk pages. They are not part of a snapshot: loading rebuilds them.
public sealed partial class MasterState
{
    private static ulong NameHash(int parent, ReadOnlySpan<byte> name) => XxHash3.HashToUInt64(name, parent);

    private static ulong HandleHash(long handle)
    {
        // SplitMix64 finaliser: deterministic and well spread.
        var z = (ulong)handle + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private int IndexFind(int parent, ReadOnlySpan<byte> name)
    {
        var mask = nameSlots.Length - 1;
        for (var i = (int)(NameHash(parent, name) & (ulong)mask); ; i = (i + 1) & mask)
        {
            var s = nameSlots[i];
            if (s == 0)
            {
                return None;
            }

            ref readonly var n = ref inodes[s - 1];
            if (n.Parent == parent && n.NameLength == name.Length && NameOf(n).SequenceEqual(name))
            {
                return s - 1;
            }
        }
    }

    private int NameHome(int id, int mask)
    {
        ref readonly var n = ref inodes[id];
        return (int)(NameHash(n.Parent, NameOf(n)) & (ulong)mask);
    }

    private void IndexInsert(int id)
    {
        if ((nameSlotsUsed + 1) * 4L > nameSlots.Length * 3L)
        {
            var old = nameSlots;
            nameSlots = new int[old.Length * 2];
            nameSlotsUsed = 0;
            foreach (var s in old)
            {
                if (s != 0)
                {
                    IndexInsert(s - 1);
                }
            }
        }

        var mask = nameSlots.Length - 1;
        var i = NameHome(id, mask);
        while (nameSlots[i] != 0)
        {
            i = (i + 1) & mask;
        }

        nameSlots[i] = id + 1;
        nameSlotsUsed++;
    }

    /// <summary>Removes <paramref name="id"/>; call before its parent or name change.</summary>
    private void IndexRemove(int id)
    {
        var mask = nameSlots.Length - 1;
        var i = NameHome(id, mask);
        while (nameSlots[i] != id + 1)
        {
            if (nameSlots[i] == 0)
            {
                throw new InvalidOperationException($"inode {id} is not indexed");
            }

            i = (i + 1) & mask;
        }

        BackwardShift(nameSlots, i, mask, s => NameHome(s - 1, mask));
        nameSlotsUsed--;
    }

    private int ChunkFind(long handle)
    {
        var mask = chunkSlots.Length - 1;
        for (var i = (int)(HandleHash(handle) & (ulong)mask); ; i = (i + 1) & mask)
        {
            var s = chunkSlots[i];
            if (s == 0)
            {
                return None;
            }

            if (chunks[s - 1].Handle == handle)
            {
                return s - 1;
            }
        }
    }

    private void ChunkIndexInsert(int slot)
    {
        if ((chunkSlotsUsed + 1) * 4L > chunkSlots.Length * 3L)
        {
            var old = chunkSlots;
            chunkSlots = new int[old.Length * 2];
            chunkSlotsUsed = 0;
            foreach (var s in old)
            {
                if (s != 0)
                {
                    ChunkIndexInsert(s - 1);
                }
            }
        }

        var mask = chunkSlots.Length - 1;
        var i = (int)(HandleHash(chunks[slot].Handle) & (ulong)mask);
        while (chunkSlots[i] != 0)
        {
            i = (i + 1) & mask;
        }

        chunkSlots[i] = slot + 1;
        chunkSlotsUsed++;
    }

    // Knuth's algorithm R: close the gap at i so that every remaining key stays reachable from its home.
    private static void BackwardShift(int[] table, int i, int mask, Func<int, int> home)
    {
        var j = i;
        while (true)
        {
            j = (j + 1) & mask;
            var s = table[j];
            if (s == 0)
            {
                break;
            }

            var k = home(s);
            var movable = i <= j ? (k <= i || k > j) : (k <= i && k > j);
            if (movable)
            {
                table[i] = s;
                i = j;
            }
        }

        table[i] = 0;
    }
}
