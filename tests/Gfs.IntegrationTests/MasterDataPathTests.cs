using System.Collections.Concurrent;
using System.Diagnostics;
using Gfs.Client;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Client.Protocol.Master;
using Gfs.Client.Transport;
using Gfs.Node.Rpc;
using Gfs.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Gfs.IntegrationTests;

/// <summary>
/// Three real <c>gfs master</c> processes; the test plays four chunkservers: each hosts a real RPC
/// endpoint answering <c>chunk/Grant</c> and heartbeats every master over the real protocol.
/// </summary>
[Collection(nameof(RealProcessCollection))]
public sealed class MasterDataPathTests
{
    [Fact]
    public async Task Masters_PlaceLeaseFenceAndOrder_AndANewLeaderKnowsLocationsAndLeases()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await MasterCluster.StartAsync();
        using var client = new MasterClient(cluster.ClientOptions);
        var servers = new List<FakeChunkserver>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                servers.Add(await FakeChunkserver.StartAsync($"cs{i}", rack: i < 2 ? "r0" : "r1", cluster.Urls));
            }

            await client.MutateAsync(NamespaceOp.Of(NamespaceOpKind.CreateFile, "/data.bin", goal: 3, chunkSize: 1 << 20), ct);
            var leader = await cluster.LeaderIndexAsync(client);
            await Retry.Until("the leader sees four live chunkservers", async () =>
                (await client.StatusAsync(cluster.Urls[leader], cancellationToken: ct)).Chunkservers.Count(s => !s.Dead) == 4, TimeSpan.FromSeconds(10));

            // Allocation: three distinct servers, created at version 1, one primary.
            var first = await client.CallLeaderAsync<LeaseChunkRequest, LeaseChunkReply>(
                ChunkRoutes.LeaseChunk, new LeaseChunkRequest { Path = "/data.bin"u8.ToArray(), Index = 0, Allocate = true, ClientHost = "127.0.0.1" }, ct);
            var handle = first.Chunk.Handle;
            Assert.Equal(1, first.Chunk.Version);
            Assert.Equal(1 << 20, first.ChunkSize);
            Assert.Equal(3, first.Chunk.Replicas.Select(r => r.ServerId).Distinct().Count());
            Assert.Equal(2, first.Chunk.Replicas.Select(r => r.Rack).Distinct().Count());
            var holders = servers.Where(s => first.Chunk.Replicas.Any(r => r.ServerId == s.Id)).ToList();
            Assert.All(holders, s => Assert.Contains(s.Grants, g => g.Handle == handle && g.Create && g.Version == 1));
            Assert.Single(holders, s => s.Grants.Any(g => g.Handle == handle && g.Primary));
            Assert.Equal(first.PrimaryId, holders.Single(s => s.Grants.Any(g => g.Primary)).Id);

            // A failed secondary: the same primary at version 2 without it; the stale copy is ordered deleted.
            var failed = holders.First(s => s.Id != first.PrimaryId);
            failed.RefuseGrants = true;
            var second = await client.CallLeaderAsync<LeaseChunkRequest, LeaseChunkReply>(
                ChunkRoutes.LeaseChunk, new LeaseChunkRequest { Path = "/data.bin"u8.ToArray(), Index = 0, Failed = [failed.Id] }, ct);
            Assert.Equal(2, second.Chunk.Version);
            Assert.Equal(first.PrimaryId, second.PrimaryId);
            Assert.DoesNotContain(second.Chunk.Replicas, r => r.ServerId == failed.Id);
            Assert.Equal(2, second.Chunk.Replicas.Count);
            await Retry.Until("the stale replica gets a Delete order", () => failed.Orders.Any(o => o.Kind == ChunkOrderKind.Delete && o.Handle == handle && o.Version == 1), TimeSpan.FromSeconds(15));
            await Retry.Until("the stale replica is gone", () => !failed.Holds(handle), TimeSpan.FromSeconds(5));

            await client.MutateAsync(new NamespaceOp { Kind = NamespaceOpKind.SetLength, Path = "/data.bin"u8.ToArray(), Size = 1000 }, ct);
            Assert.Equal(1000, (await client.StatAsync("/data.bin", ct)).Size);

            // The leader dies: the new one knows the locations and adopts the primary's lease from heartbeats.
            cluster.Kill(leader);
            var chunks = await client.CallLeaderAsync<GetChunksRequest, GetChunksReply>(
                ChunkRoutes.GetChunks, new GetChunksRequest { Path = "/data.bin"u8.ToArray() }, ct);
            Assert.Equal(1000, chunks.Attributes.Size);
            var chunk = Assert.Single(chunks.Chunks);
            Assert.Equal((handle, 2L), (chunk.Handle, chunk.Version));
            Assert.Equal(second.Chunk.Replicas.Select(r => r.ServerId).Order(), chunk.Replicas.Select(r => r.ServerId).Order());

            var adopted = await client.CallLeaderAsync<LeaseChunkRequest, LeaseChunkReply>(
                ChunkRoutes.LeaseChunk, new LeaseChunkRequest { Path = "/data.bin"u8.ToArray(), Index = 0 }, ct);
            Assert.Equal((first.PrimaryId, 2L), (adopted.PrimaryId, adopted.Chunk.Version));
            Assert.True(adopted.LeaseRemainingMs > 0);
            Assert.Equal(2, servers.Single(s => s.Id == first.PrimaryId).Grants.Count(g => g.Handle == handle)); // no new grant
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"{e}\n--- masters ---\n{cluster.Output()}");
        }
        finally
        {
            foreach (var server in servers)
            {
                await server.DisposeAsync();
            }
        }
    }

    /// <summary>A chunkserver as far as the masters can tell: Grant, heartbeats with reports and leases, Delete orders.</summary>
    private sealed class FakeChunkserver : IAsyncDisposable
    {
        private readonly WebApplication app;
        private readonly RpcClient rpc = new(new RpcClientOptions { DefaultTimeout = TimeSpan.FromSeconds(2) });
        private readonly ConcurrentDictionary<long, ReportedChunk> chunks = new();
        private readonly ConcurrentDictionary<long, (long Version, long EndsAt)> leases = new();
        private readonly ConcurrentDictionary<Uri, bool> reported = new();
        private readonly CancellationTokenSource stop = new();
        private readonly long started = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        private Task heartbeats = Task.CompletedTask;

        private FakeChunkserver(string id, string rack, WebApplication app)
        {
            Id = id;
            Rack = rack;
            this.app = app;
        }

        public string Id { get; }

        public string Rack { get; }

        public string Url { get; private set; } = "";

        public bool RefuseGrants { get; set; }

        public ConcurrentQueue<GrantRequest> Grants { get; } = new();

        public ConcurrentQueue<ChunkOrder> Orders { get; } = new();

        public bool Holds(long handle) => chunks.ContainsKey(handle);

        public static async Task<FakeChunkserver> StartAsync(string id, string rack, IReadOnlyList<Uri> masters)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.AddGfsRpc(o => o.Urls = ["http://127.0.0.1:0"]);
            var app = builder.Build();
            var server = new FakeChunkserver(id, rack, app);
            app.MapRpc<GrantRequest, GrantReply>(ChunkRoutes.Grant, (request, _) => ValueTask.FromResult(server.Grant(request)));
            app.UseGfsRpc();
            await app.StartAsync();
            server.Url = app.BoundUrls()[0].ToString();
            server.heartbeats = Task.Run(() => server.HeartbeatLoopAsync(masters));
            return server;
        }

        private GrantReply Grant(GrantRequest request)
        {
            if (RefuseGrants)
            {
                throw new GfsException(ErrorCode.DiskFailed, "refusing grants");
            }

            Grants.Enqueue(request);
            var length = chunks.TryGetValue(request.Handle, out var old) ? old.Length : 0;
            chunks[request.Handle] = new ReportedChunk { Handle = request.Handle, Version = request.Version, Length = length };
            if (request.Primary)
            {
                leases[request.Handle] = (request.Version, Stopwatch.GetTimestamp() + (request.LeaseMs * Stopwatch.Frequency / 1000));
            }
            else
            {
                leases.TryRemove(request.Handle, out _);
            }

            return new GrantReply { Length = length };
        }

        private async Task HeartbeatLoopAsync(IReadOnlyList<Uri> masters)
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.WhenAll(masters.Select(HeartbeatAsync));
                try
                {
                    await Task.Delay(300, stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }

        private async Task HeartbeatAsync(Uri master)
        {
            var now = Stopwatch.GetTimestamp();
            var full = true; // a handful of chunks: every heartbeat carries the full report, so deletions show at once
            var request = new HeartbeatRequest
            {
                ServerId = Id,
                Url = Url,
                Rack = Rack,
                CapacityBytes = 100L << 30,
                FreeBytes = 50L << 30,
                StartedUnixMs = started,
                FullReport = full,
                Chunks = [.. chunks.Values],
                ChunkCount = chunks.Count,
                Leases = leases.Where(l => l.Value.EndsAt > now).Select(l => new HeldLease
                {
                    Handle = l.Key,
                    Version = l.Value.Version,
                    RemainingMs = (l.Value.EndsAt - now) * 1000 / Stopwatch.Frequency,
                    WantsExtension = true,
                }).ToList(),
            };
            try
            {
                var reply = await rpc.CallAsync<HeartbeatRequest, HeartbeatReply>(master, ChunkRoutes.Heartbeat, request, cancellationToken: stop.Token);
                Assert.False(reply.SendFullReport && reported.ContainsKey(master), "a master asked again for the full report it just got");
                reported[master] = true;
                foreach (var order in reply.Orders)
                {
                    Orders.Enqueue(order);
                    if (order.Kind == ChunkOrderKind.Delete && chunks.TryGetValue(order.Handle, out var held) && (order.Version == 0 || held.Version <= order.Version))
                    {
                        chunks.TryRemove(order.Handle, out _);
                    }
                }

                foreach (var extension in reply.Extensions)
                {
                    if (leases.TryGetValue(extension.Handle, out var lease) && lease.Version == extension.Version)
                    {
                        leases[extension.Handle] = (lease.Version, now + (extension.LeaseMs * Stopwatch.Frequency / 1000));
                    }
                }

                foreach (var handle in reply.Revoked)
                {
                    leases.TryRemove(handle, out _);
                }
            }
            catch (GfsException)
            {
                // that master is down or starting
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // disposing: the heartbeat in flight is abandoned
            }
        }

        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            await heartbeats;
            await app.StopAsync();
            await app.DisposeAsync();
            rpc.Dispose();
            stop.Dispose();
        }
    }
}
