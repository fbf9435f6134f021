using System.Collections.Concurrent;
using Gfs.Client.Protocol.Chunk;
using Gfs.Node.Rpc;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Gfs.Node.Tests.Chunkserver;

/// <summary>A master endpoint that records heartbeats and answers them with whatever the test scripts.</summary>
internal sealed class FakeMaster : IAsyncDisposable
{
    private readonly WebApplication app;
    private Func<HeartbeatRequest, HeartbeatReply> answer = _ => new HeartbeatReply { IsLeader = true };

    private FakeMaster(WebApplication app, Uri url)
    {
        this.app = app;
        Url = url;
    }

    public Uri Url { get; }

    public ConcurrentQueue<HeartbeatRequest> Received { get; } = new();

    public static async Task<FakeMaster> StartAsync(int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.AddGfsRpc(o => o.Urls = [$"http://127.0.0.1:{port}"]);
        var app = builder.Build();
        FakeMaster? master = null;
        app.MapRpc<HeartbeatRequest, HeartbeatReply>(ChunkRoutes.Heartbeat, (request, _) =>
        {
            master!.Received.Enqueue(request);
            return ValueTask.FromResult(master.Answer(request));
        });
        app.UseGfsRpc();
        await app.StartAsync();
        master = new FakeMaster(app, app.BoundUrls()[0]);
        return master;
    }

    /// <summary>Replaces how heartbeats are answered.</summary>
    public void OnHeartbeat(Func<HeartbeatRequest, HeartbeatReply> reply) => Volatile.Write(ref answer, reply);

    /// <summary>
    /// Answers the next heartbeat that <paramref name="when"/> accepts with <paramref name="reply"/>, once; others as a plain leader.
    /// The task completes when that reply has been handed back to the chunkserver's heartbeat call.
    /// </summary>
    public Task Once(Func<HeartbeatRequest, bool> when, HeartbeatReply reply)
    {
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var taken = 0;
        OnHeartbeat(r =>
        {
            if (when(r) && Interlocked.Exchange(ref taken, 1) == 0)
            {
                sent.TrySetResult();
                return reply;
            }

            return new HeartbeatReply { IsLeader = true };
        });
        return sent.Task;
    }

    /// <summary>The term a leader's reply names when the scripted reply names none (the term test grants use).</summary>
    public long Term { get; set; } = 1;

    private HeartbeatReply Answer(HeartbeatRequest request)
    {
        var reply = Volatile.Read(ref answer)(request);
        if (reply.IsLeader && reply.Term == 0)
        {
            reply.Term = Term;
        }

        return reply;
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
