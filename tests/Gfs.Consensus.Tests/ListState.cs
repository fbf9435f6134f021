using System.Buffers;
using System.Text;

namespace Gfs.Consensus.Tests;

/// <summary>A tiny replicated state: the ordered list of applied commands (UTF-8 strings).</summary>
internal sealed class ListState : IReplicatedState
{
    private readonly Lock gate = new();
    private List<string> items = [];

    public int Count
    {
        get
        {
            lock (gate)
            {
                return items.Count;
            }
        }
    }

    public string[] Items
    {
        get
        {
            lock (gate)
            {
                return [.. items];
            }
        }
    }

    public object? Apply(ReadOnlySequence<byte> command, long index)
    {
        var text = Encoding.UTF8.GetString(command);
        lock (gate)
        {
            items.Add(text);
            return items.Count;
        }
    }

    public IFrozenState Freeze()
    {
        lock (gate)
        {
            return new Frozen([.. items]);
        }
    }

    public void Restore(Stream snapshot, long index)
    {
        using var reader = new BinaryReader(snapshot, Encoding.UTF8, leaveOpen: true);
        var count = reader.ReadInt32();
        var restored = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            restored.Add(reader.ReadString());
        }

        lock (gate)
        {
            items = restored;
        }
    }

    private sealed class Frozen(string[] items) : IFrozenState
    {
        public void WriteTo(Stream destination)
        {
            using var writer = new BinaryWriter(destination, Encoding.UTF8, leaveOpen: true);
            writer.Write(items.Length);
            foreach (var item in items)
            {
                writer.Write(item);
            }
        }
    }
}
