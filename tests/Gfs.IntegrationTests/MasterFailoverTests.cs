using System.Collections.Concurrent;
using Gfs.Client;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Master;
using Gfs.Testing;

namespace Gfs.IntegrationTests;

/// <summary>
/// Kills real master processes with SIGKILL under load and checks that nothing acknowledged is lost
/// and nothing is applied twice.
/// </summary>
[Collection(nameof(RealProcessCollection))]
public sealed class MasterFailoverTests
{
    private readonly ITestOutputHelper output = TestContext.Current.TestOutputHelper!;

    [Fact]
    public async Task LeaderKilledTenTimes_Under16Clients_NoAcknowledgedCreateLostOrDuplicated()
    {
        await using var cluster = await MasterCluster.StartAsync();
        using var admin = new MasterClient(cluster.ClientOptions);
        const int clients = 16;
        const int target = 10_000;
        const int kills = 10;

        await admin.BatchAsync(Enumerable.Range(0, clients).Select(c => NamespaceOp.Of(NamespaceOpKind.Mkdir, $"/load/c{c:00}", flag: true)).ToList());

        var acknowledged = new ConcurrentBag<string>();
        var uncertain = new ConcurrentBag<string>();
        var duplicates = new ConcurrentBag<string>();
        var created = 0;
        var killsDone = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(4));

        var writers = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            using var client = new MasterClient(cluster.ClientOptions);
            for (var n = 0; Volatile.Read(ref created) < target || Volatile.Read(ref killsDone) < kills; n++)
            {
                stop.Token.ThrowIfCancellationRequested();
                var path = $"/load/c{c:00}/f{n:000000}";
                try
                {
                    await client.MutateAsync(NamespaceOp.Of(NamespaceOpKind.CreateFile, path, chunkSize: 1 << 20));
                    acknowledged.Add(path);
                    Interlocked.Increment(ref created);
                }
                catch (GfsException e) when (e.Code == ErrorCode.AlreadyExists)
                {
                    duplicates.Add(path); // a retry applied twice would surface here
                }
                catch (GfsException)
                {
                    uncertain.Add(path); // gave up: the outcome is unknown, either state is allowed
                }
            }
        })).ToList();

        var killer = Task.Run(async () =>
        {
            var random = new Random(4711);
            while (Volatile.Read(ref killsDone) < kills)
            {
                await Task.Delay(random.Next(200, 800), stop.Token);
                var leader = await cluster.LeaderIndexAsync(admin);
                cluster.Kill(leader);
                var before = Volatile.Read(ref created);
                await Retry.Until("a mutation is acknowledged after the kill", () => Volatile.Read(ref created) > before, TimeSpan.FromSeconds(30));
                await cluster.RestartAsync(leader);
                Interlocked.Increment(ref killsDone);
            }
        });

        try
        {
            await Task.WhenAll([killer, .. writers]);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"load or kills failed; cluster output:\n{cluster.Output()}", e);
        }

        output.WriteLine($"{acknowledged.Count} creates acknowledged, {uncertain.Count} uncertain, {duplicates.Count} duplicates, {killsDone} leader kills");
        Assert.Empty(duplicates);
        Assert.True(acknowledged.Count >= target);

        var statuses = await cluster.WaitConvergedAsync(admin, TimeSpan.FromSeconds(60));
        var expected = acknowledged.ToHashSet();
        for (var i = 0; i < 3; i++)
        {
            var present = new HashSet<string>();
            for (var c = 0; c < clients; c++)
            {
                foreach (var name in await ListAllLocalAsync(admin, cluster.Urls[i], $"/load/c{c:00}"))
                {
                    present.Add($"/load/c{c:00}/{name}");
                }
            }

            var lost = expected.Except(present).ToList();
            Assert.True(lost.Count == 0, $"replica {i} lost {lost.Count} acknowledged creates, e.g. {string.Join(", ", lost.Take(5))}");
            var unexplained = present.Except(expected).Except(uncertain).ToList();
            Assert.True(unexplained.Count == 0, $"replica {i} holds {unexplained.Count} files nobody created, e.g. {string.Join(", ", unexplained.Take(5))}");
        }

        Assert.Equal(statuses[0].Files, statuses[2].Files);
    }

    [Fact]
    public async Task AllMastersKilledAtOnce_RestartLosesNothingAcknowledged()
    {
        await using var cluster = await MasterCluster.StartAsync();
        using var client = new MasterClient(cluster.ClientOptions);
        await client.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Mkdir, "/keep"));
        var acknowledged = new List<string>();
        for (var b = 0; b < 10; b++)
        {
            var paths = Enumerable.Range(0, 200).Select(i => $"/keep/b{b}-{i:000}").ToList();
            var reply = await client.BatchAsync(paths.Select(p => NamespaceOp.Of(NamespaceOpKind.CreateFile, p)).ToList());
            Assert.All(reply.Results, r => Assert.Equal(ErrorCode.Ok, r.Code));
            acknowledged.AddRange(paths);
        }

        await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            await client.MutateAsync(NamespaceOp.Of(NamespaceOpKind.CreateFile, $"/keep/single-{i:000}"));
            lock (acknowledged)
            {
                acknowledged.Add($"/keep/single-{i:000}");
            }
        }));

        cluster.KillAll();
        await cluster.LaunchAllAsync();

        using var after = new MasterClient(cluster.ClientOptions);
        var names = (await ListAllAsync(after, "/keep")).Select(n => "/keep/" + n).ToHashSet();
        Assert.Equal(acknowledged.Count, names.Count);
        Assert.Empty(acknowledged.Except(names));
        await cluster.WaitConvergedAsync(after, TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task FollowerStoppedDuring100kOperations_CatchesUpThroughASnapshot()
    {
        await using var cluster = await MasterCluster.StartAsync("--snapshot-log-mib", "1");
        using var client = new MasterClient(cluster.ClientOptions);
        var leader = await cluster.LeaderIndexAsync(client);
        var follower = (leader + 1) % 3;
        cluster.Kill(follower);

        await client.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Mkdir, "/bulk"));
        for (var b = 0; b < 100; b++)
        {
            var ops = Enumerable.Range(0, 1000).Select(i => NamespaceOp.Of(NamespaceOpKind.CreateFile, $"/bulk/f{b:000}-{i:000}")).ToList();
            var reply = await client.BatchAsync(ops);
            Assert.All(reply.Results, r => Assert.Equal(ErrorCode.Ok, r.Code));
        }

        cluster.Launch(follower);
        await cluster.WaitReadyAsync(follower);
        var statuses = await cluster.WaitConvergedAsync(client, TimeSpan.FromSeconds(120));

        Assert.All(statuses, s => Assert.Equal(100_000, s.Files));
        Assert.Contains("Installed snapshot", cluster.Output(), StringComparison.Ordinal);
        var local = await client.StatLocalAsync(cluster.Urls[follower], "/bulk/f099-999");
        Assert.Equal(EntryKind.File, local.Kind);
    }

    private static Task<List<string>> ListAllLocalAsync(MasterClient client, Uri master, string path)
        => ListAllAsync((after, limit) => client.ListLocalAsync(master, path, after, limit));

    private static Task<List<string>> ListAllAsync(MasterClient client, string path)
        => ListAllAsync((after, limit) => client.ListAsync(path, after, limit));

    /// <summary>Follows the pages of a listing to the end.</summary>
    private static async Task<List<string>> ListAllAsync(Func<string?, int, Task<ListReply>> page)
    {
        var names = new List<string>();
        string? after = null;
        while (true)
        {
            var reply = await page(after, 10_000);
            names.AddRange(reply.Entries.Select(e => e.Name));
            if (!reply.More)
            {
                return names;
            }

            after = reply.Entries[^1].Name;
        }
    }
}
