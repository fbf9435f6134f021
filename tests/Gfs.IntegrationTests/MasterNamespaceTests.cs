using System.Text;
using Gfs.Client;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Master;
using Gfs.Testing;

namespace Gfs.IntegrationTests;

/// <summary>Namespace operations against three real master processes, through a follower as well as the leader.</summary>
[Collection(nameof(RealProcessCollection))]
public sealed class MasterNamespaceTests : IAsyncLifetime
{
    private MasterCluster cluster = null!;
    private MasterClient client = null!;

    public async ValueTask InitializeAsync()
    {
        cluster = await MasterCluster.StartAsync();
        client = new MasterClient(cluster.ClientOptions);
    }

    public async ValueTask DisposeAsync()
    {
        client.Dispose();
        await cluster.DisposeAsync();
    }

    [Fact]
    public async Task ClientKnowingOnlyAFollower_FindsTheLeader_AndEveryOperationWorks()
    {
        var leader = await cluster.LeaderIndexAsync(client);
        var follower = (leader + 1) % 3;
        using var viaFollower = new MasterClient(cluster.ClientOptions with { Masters = [cluster.Urls[follower]] });

        await viaFollower.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Mkdir, "/data/logs", flag: true));
        var created = await viaFollower.MutateAsync(NamespaceOp.Of(NamespaceOpKind.CreateFile, "/data/logs/a.log", goal: 2, chunkSize: 1 << 20));
        await viaFollower.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Rename, "/data/logs/a.log", "/data/b.log"));
        await viaFollower.MutateAsync(NamespaceOp.Of(NamespaceOpKind.SetReplication, "/data/b.log", goal: 5));

        var stat = await viaFollower.StatAsync("/data/b.log");
        Assert.Equal(cluster.Urls[leader], viaFollower.Leader);
        Assert.Equal(created.Id, stat.Id);
        Assert.Equal(EntryKind.File, stat.Kind);
        Assert.Equal(5, stat.Goal);
        Assert.Equal(1 << 20, stat.ChunkSize);
        var list = await viaFollower.ListAsync("/data");
        Assert.Equal(["b.log", "logs"], list.Entries.Select(e => e.Name));
        Assert.False(list.More);

        await viaFollower.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Delete, "/data", flag: true));
        var gone = await Assert.ThrowsAsync<GfsException>(() => viaFollower.StatAsync("/data/b.log"));
        Assert.Equal(ErrorCode.NotFound, gone.Code);
    }

    [Fact]
    public async Task Follower_AnswersNotLeader_WithTheLeadersUrl()
    {
        var leader = await cluster.LeaderIndexAsync(client);
        var follower = (leader + 2) % 3;
        using var rpc = new Gfs.Client.Transport.RpcClient(new Gfs.Client.Transport.RpcClientOptions());

        var e = await Assert.ThrowsAsync<GfsException>(() => rpc.CallAsync<PathRequest, EntryAttributes>(cluster.Urls[follower], MasterRoutes.Stat, PathRequest.Of("/")));

        Assert.Equal(ErrorCode.NotLeader, e.Code);
        Assert.Equal(cluster.Urls[leader], new Uri(e.LeaderUrl!));
    }

    [Fact]
    public async Task TypedErrors_ForExistingMissingAndWrongKinds()
    {
        await client.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Mkdir, "/e/dir", flag: true));
        await client.MutateAsync(NamespaceOp.Of(NamespaceOpKind.CreateFile, "/e/file"));

        Assert.Equal(ErrorCode.AlreadyExists, (await Assert.ThrowsAsync<GfsException>(() => client.MutateAsync(NamespaceOp.Of(NamespaceOpKind.CreateFile, "/e/file")))).Code);
        Assert.Equal(ErrorCode.NotFound, (await Assert.ThrowsAsync<GfsException>(() => client.MutateAsync(NamespaceOp.Of(NamespaceOpKind.CreateFile, "/missing/file")))).Code);
        Assert.Equal(ErrorCode.NotADirectory, (await Assert.ThrowsAsync<GfsException>(() => client.MutateAsync(NamespaceOp.Of(NamespaceOpKind.CreateFile, "/e/file/x")))).Code);
        Assert.Equal(ErrorCode.DirectoryNotEmpty, (await Assert.ThrowsAsync<GfsException>(() => client.MutateAsync(NamespaceOp.Of(NamespaceOpKind.Delete, "/e")))).Code);
        Assert.Equal(ErrorCode.NotFound, (await Assert.ThrowsAsync<GfsException>(() => client.ListAsync("/nowhere"))).Code);
    }

    public static TheoryData<string, byte[]> BadPaths => new()
    {
        { "dot-dot", Encoding.UTF8.GetBytes("/a/../b") },
        { "dot", Encoding.UTF8.GetBytes("/a/./b") },
        { "double slash", Encoding.UTF8.GetBytes("/a//b") },
        { "empty", [] },
        { "relative", Encoding.UTF8.GetBytes("a/b") },
        { "NUL", Encoding.UTF8.GetBytes("/a\0b") },
        { "control character", Encoding.UTF8.GetBytes("/a\u0007b") },
        { "256-byte name", Encoding.UTF8.GetBytes("/" + new string('n', 256)) },
        { "path over 4 KiB", Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("/" + new string('p', 99), 42))) },
        { "invalid UTF-8", [(byte)'/', (byte)'a', 0xff, 0xfe, (byte)'b'] },
        { "overlong UTF-8", [(byte)'/', 0xc0, 0xaf] },
    };

    [Theory]
    [MemberData(nameof(BadPaths))]
    public async Task BadPath_IsInvalidArgument_AndCreatesNothing(string name, byte[] path)
    {
        var before = await client.ListAsync("/");

        foreach (var kind in new[] { NamespaceOpKind.Mkdir, NamespaceOpKind.CreateFile })
        {
            var op = new NamespaceOp { Kind = kind, Path = path, Flag = true };
            var e = await Assert.ThrowsAsync<GfsException>(() => client.MutateAsync(op));
            Assert.True(e.Code == ErrorCode.InvalidArgument, $"{name}: {kind} gave {e.Code}: {e.Message}");
        }

        var batch = await client.BatchAsync([new NamespaceOp { Kind = NamespaceOpKind.CreateFile, Path = path }, NamespaceOp.Of(NamespaceOpKind.Mkdir, "/fine-" + name.Replace(' ', '-'))]);
        Assert.Equal(ErrorCode.InvalidArgument, batch.Results[0].Code);
        Assert.Equal(ErrorCode.Ok, batch.Results[1].Code);

        var after = await client.ListAsync("/");
        Assert.Equal(before.Entries.Select(e => e.Name).Append("fine-" + name.Replace(' ', '-')).Order(StringComparer.Ordinal), after.Entries.Select(e => e.Name));
    }

    [Fact]
    public async Task Batch_AppliesEveryOperationInOneRequest_WithPerOperationResults()
    {
        var ops = new List<NamespaceOp> { NamespaceOp.Of(NamespaceOpKind.Mkdir, "/batch") };
        ops.AddRange(Enumerable.Range(0, 999).Select(i => NamespaceOp.Of(NamespaceOpKind.CreateFile, $"/batch/f{i:0000}")));
        ops.Add(NamespaceOp.Of(NamespaceOpKind.CreateFile, "/batch/f0000"));

        var reply = await client.BatchAsync(ops);

        Assert.Equal(1001, reply.Results.Count);
        Assert.All(reply.Results.Take(1000), r => Assert.Equal(ErrorCode.Ok, r.Code));
        Assert.Equal(ErrorCode.AlreadyExists, reply.Results[1000].Code);
        var names = new List<string>();
        string? after = null;
        while (true)
        {
            var page = await client.ListAsync("/batch", after, limit: 300);
            names.AddRange(page.Entries.Select(e => e.Name));
            if (!page.More)
            {
                break;
            }

            after = page.Entries[^1].Name;
        }

        Assert.Equal(Enumerable.Range(0, 999).Select(i => $"f{i:0000}"), names);
    }
}

[CollectionDefinition(nameof(RealProcessCollection), DisableParallelization = true)]
public sealed class RealProcessCollection;
