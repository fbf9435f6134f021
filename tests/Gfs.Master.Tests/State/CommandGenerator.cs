using Gfs.Master.Commands;
using Gfs.Master.State;

namespace Gfs.Master.Tests.State;

/// <summary>A seeded stream of random commands over a small namespace, so that collisions and errors are frequent.</summary>
internal sealed class CommandGenerator(int seed)
{
    private static readonly string[] Names = ["a", "b", "c", "dé", "e"];
    private static readonly string[] Servers = ["cs1", "cs2", "cs3", "cs4", "cs5", "cs6"];
    private readonly Random random = new(seed);
    private long time = 1_700_000_000_000;
    private long handle = 1;
    private long requestId;

    private string RandomPath()
    {
        var depth = random.Next(1, 4);
        return "/" + string.Join('/', Enumerable.Range(0, depth).Select(_ => Names[random.Next(Names.Length)]));
    }

    private MasterOp RandomOp() => random.Next(10) switch
    {
        0 or 1 => Ops.Mkdir(RandomPath(), parents: random.Next(2) == 0),
        2 or 3 => Ops.Create(RandomPath(), goal: random.Next(1, 5)),
        4 => Ops.Rename(RandomPath(), RandomPath()),
        5 => Ops.Delete(RandomPath(), recursive: random.Next(3) == 0),
        6 => Ops.SetGoal(RandomPath(), random.Next(0, 6)),
        7 => Ops.Allocate(RandomPath(), random.Next(3), random.Next(4) == 0 ? random.Next(1, (int)handle + 1) : handle++, Servers[random.Next(Servers.Length)], "cs2", "cs3", "cs4", "cs5"),
        8 => Ops.Bump(random.Next(1, (int)handle + 1), random.Next(1, 4), Servers[..random.Next(0, Servers.Length + 1)]),
        _ => new BatchOp { Ops = [.. Enumerable.Range(0, random.Next(1, 8)).Select(_ => RandomOp())] },
    };

    public MasterCommand Next()
    {
        time += random.Next(0, 1000);
        var client = random.Next(4);
        var retry = client != 0 && requestId > 0 && random.Next(8) == 0;
        return new MasterCommand
        {
            ClientId = client,
            RequestId = client == 0 ? 0 : retry ? Math.Max(1, requestId - random.Next(3)) : ++requestId,
            Timestamp = time,
            Op = RandomOp(),
        };
    }

    public static List<byte[]> Log(int seed, int count)
    {
        var generator = new CommandGenerator(seed);
        return [.. Enumerable.Range(0, count).Select(_ => MasterState.Encode(generator.Next()))];
    }
}
