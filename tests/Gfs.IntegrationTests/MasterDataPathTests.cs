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
            // What the masters' log says the chunk's version is, asked by a fake chunkserver while a Grant is in hand.
            async Task<long> LoggedVersion(long handle)
            {
                using var probe = new MasterClient(cluster.ClientOptions);
                var reply = await probe.CallLeaderAsync<GetChunksRequest, GetChunksReply>(ChunkRoutes.GetChunks, new GetChunksRequest { Path = "/data.bin"u8.ToArray() });
                return reply.Chunks.FirstOrDefault(c => c.Handle == handle)?.Version ?? 0;
            }

            for (var i = 0; i < 4; i++)
            {
                servers.Add(await FakeChunkserver.StartAsync($"cs{i}", rack: i < 2 ? "r0" : "r1", cluster.Urls, LoggedVersion));
            }

            // Fencing as a real chunkserver sees it: every version granted was in the log before the
            // Grant, and every lease handed out names only replicas that accepted its version.
            void AssertFenced(LeaseChunkReply lease)
            {
                var unlogged = servers.SelectMany(s => s.Grants.Select(g => (s.Id, g.Request.Handle, g.Request.Version, g.Logged))).Where(g => g.Logged < g.Version).ToList();
                Assert.True(unlogged.Count == 0, $"granted before the log held the version: {string.Join(", ", unlogged.Select(g => $"{g.Id} got {g.Handle}@{g.Version} while the log said {g.Logged}"))}");
                foreach (var replica in lease.Chunk.Replicas)
                {
                    var server = servers.Single(s => s.Id == replica.ServerId);
                    Assert.True(server.Accepted(lease.Chunk.Handle, lease.Chunk.Version), $"the lease on {lease.Chunk.Handle}@{lease.Chunk.Version} names {server.Id}, which did not accept that version (held {server.VersionOf(lease.Chunk.Handle)})");
                }

                var primary = servers.Single(s => s.Id == lease.PrimaryId);
                Assert.True(primary.Accepted(lease.Chunk.Handle, lease.Chunk.Version, asPrimary: true), $"the primary {primary.Id} never accepted a primary grant at {lease.Chunk.Version}");
            }

            await client.MutateAsync(NamespaceOp.Of(NamespaceOpKind.CreateFile, "/data.bin", goal: 3, chunkSize: 1 << 20), ct);
            var leader = await cluster.LeaderIndexAsync(client);
            await Retry.Until("the leader sees four live chunkservers", async () =>
                (await client.StatusAsync(cluster.Urls[leader], cancellationToken: ct)).Chunkservers.Count(s => !s.Dead) == 4, TimeSpan.FromSeconds(10));

            // Allocation: three distinct servers, created at version 1, one primary.
            var first = await client.CallLeaderAsync<LeaseChunkRequest, LeaseChunkReply>(
                ChunkRoutes.LeaseChunk, new LeaseChunkRequest { Path = "/data.bin"u8.ToArray(), Index = 0, Allocate = true, ClientHost = "127.0.0.1" }, ct);
            var handle = first.Chunk.Handle;
            AssertFenced(first);
            Assert.Equal(1, first.Chunk.Version);
            Assert.Equal(1 << 20, first.ChunkSize);
            Assert.Equal(3, first.Chunk.Replicas.Select(r => r.ServerId).Distinct().Count());
            Assert.Equal(2, first.Chunk.Replicas.Select(r => r.Rack).Distinct().Count());
            var holders = servers.Where(s => first.Chunk.Replicas.Any(r => r.ServerId == s.Id)).ToList();
            Assert.All(holders, s => Assert.Contains(s.Grants, g => g.Request.Handle == handle && g.Request.Create && g.Request.Version == 1));
            Assert.Single(holders, s => s.Grants.Any(g => g.Request.Handle == handle && g.Request.Primary));
            Assert.Equal(first.PrimaryId, holders.Single(s => s.Grants.Any(g => g.Request.Primary)).Id);

            // A failed secondary: the same primary at version 2 without it; the stale copy is ordered deleted.
            var failed = holders.First(s => s.Id != first.PrimaryId);
            failed.RefuseGrants = true;
            var second = await client.CallLeaderAsync<LeaseChunkRequest, LeaseChunkReply>(
                ChunkRoutes.LeaseChunk, new LeaseChunkRequest { Path = "/data.bin"u8.ToArray(), Index = 0, Failed = [failed.Id] }, ct);
            AssertFenced(second);
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
            AssertFenced(adopted);
            Assert.Equal((first.PrimaryId, 2L), (adopted.PrimaryId, adopted.Chunk.Version));
            Assert.True(adopted.LeaseRemainingMs > 0);
            Assert.Equal(2, servers.Single(s => s.Id == first.PrimaryId).Grants.Count(g => g.Request.Handle == handle)); // no new grant
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

    /// <summary>
    /// A chunkserver as far as the masters can tell: Grant, heartbeats with reports and leases, Delete
    /// orders. Its Grant fences like a real chunkserver's: a version below the one it holds is refused
    /// with StaleVersion, a chunk it does not hold with NotFound unless the grant creates it, and a
    /// create of a chunk it already holds at a lower version with AlreadyExists. It also asks the
    /// masters what their log says the chunk's version is while each Grant is in hand.
    /// </summary>
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

        /// <summary>Grants accepted, each with the version the masters' log held when it arrived.</summary>
        public ConcurrentQueue<(GrantRequest Request, long Logged)> Grants { get; } = new();

        /// <summary>Grants refused, with the reason.</summary>
        public ConcurrentQueue<(long Handle, long Version, ErrorCode Code)> Refused { get; } = new();

        public ConcurrentQueue<ChunkOrder> Orders { get; } = new();

        private Func<long, Task<long>> loggedVersion = _ => Task.FromResult(0L);

        public bool Holds(long handle) => chunks.ContainsKey(handle);

        public long VersionOf(long handle) => chunks.TryGetValue(handle, out var c) ? c.Version : 0;

        /// <summary>Whether this server accepted a Grant of <paramref name="handle"/> at <paramref name="version"/> (as primary, if asked).</summary>
        public bool Accepted(long handle, long version, bool asPrimary = false)
            => Grants.Any(g => g.Request.Handle == handle && g.Request.Version == version && (!asPrimary || g.Request.Primary));

        public static async Task<FakeChunkserver> StartAsync(string id, string rack, IReadOnlyList<Uri> masters, Func<long, Task<long>> loggedVersion)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.AddGfsRpc(o => o.Urls = ["http://127.0.0.1:0"]);
            var app = builder.Build();
            var server = new FakeChunkserver(id, rack, app) { loggedVersion = loggedVersion };
            app.MapRpc<GrantRequest, GrantReply>(ChunkRoutes.Grant, async (request, _) => server.Grant(request, await server.loggedVersion(request.Handle)));
            app.UseGfsRpc();
            await app.StartAsync();
            server.Url = app.BoundUrls()[0].ToString();
            server.heartbeats = Task.Run(() => server.HeartbeatLoopAsync(masters));
            return server;
        }

        private GrantReply Grant(GrantRequest request, long logged)
        {
            var held = chunks.TryGetValue(request.Handle, out var old) ? old : null;
            var refusal = RefuseGrants ? (ErrorCode.DiskFailed, "refusing grants")
                : held is null && !request.Create ? (ErrorCode.NotFound, $"chunk {request.Handle} is not on this server")
                : held is not null && held.Version > request.Version ? (ErrorCode.StaleVersion, $"chunk {request.Handle} is at version {held.Version}, newer than the grant's {request.Version}")
                : held is not null && held.Version < request.Version && request.Create ? (ErrorCode.AlreadyExists, $"chunk {request.Handle} exists at version {held.Version}")
                : ((ErrorCode Code, string Message)?)null;
            if (refusal is { } r)
            {
                Refused.Enqueue((request.Handle, request.Version, r.Code));
                throw new GfsException(r.Code, r.Message);
            }

            Grants.Enqueue((request, logged));
            var length = held?.Length ?? 0;
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
