using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;

namespace Gfs.Client.Tests.Data;

/// <summary>The fake leader's leases: allocation, re-grants without failed servers, and (on a clock) the wait for an old lease to end.</summary>
internal sealed partial class FakeCluster
{
    public async Task<LeaseChunkReply> LeaseChunkAsync(string path, long fileId, int index, bool allocate, IReadOnlyCollection<string> failed, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            if (fileId != 0 && File(path).Id != fileId)
            {
                throw new GfsException(ErrorCode.FileReplaced, $"{path} is not file {fileId}");
            }
        }

        if (Time is { } clock && LeaseWait(path, index, failed) is { } wait)
        {
            if (wait > TimeSpan.FromSeconds(10))
            {
                throw new GfsException(ErrorCode.Unavailable, $"an earlier lease may run for another {wait.TotalMilliseconds:0} ms; retry later");
            }

            await Task.Delay(wait, clock, cancellationToken);
        }

        return Lease(path, index, allocate, failed);
    }

    /// <summary>How long the leader would wait before it may name a new primary for the chunk (null: no wait).</summary>
    private TimeSpan? LeaseWait(string path, int index, IReadOnlyCollection<string> failed)
    {
        lock (gate)
        {
            if (!files.TryGetValue(path, out var file) || index >= file.Chunks.Count)
            {
                return null;
            }

            var c = file.Chunks[index];
            var left = c.LeaseEnd - Time!.GetUtcNow();
            return c.Primary is not null && failed.Contains(c.Primary.Id) && left > TimeSpan.Zero ? left : null;
        }
    }

    private LeaseChunkReply Lease(string path, int index, bool allocate, IReadOnlyCollection<string> failed)
    {
        lock (gate)
        {
            LeaseCalls.Add((index, allocate, [.. failed]));
            var file = File(path);
            if (index == file.Chunks.Count && allocate)
            {
                var chunk = new FakeChunk(nextHandle++, index, file.ChunkSize) { Version = 1 };
                foreach (var server in Servers.Take(file.Goal))
                {
                    chunk.Replicas.Add(server);
                    server.Replicas[chunk.Handle] = new FakeReplica(file.ChunkSize) { Version = 1 };
                }

                chunk.Primary = chunk.Replicas[0];
                file.Chunks.Add(chunk);
                chunks[chunk.Handle] = chunk;
            }
            else if (index >= file.Chunks.Count)
            {
                throw new GfsException(ErrorCode.InvalidArgument, $"chunk {index} of a file with {file.Chunks.Count}");
            }

            var c = file.Chunks[index];
            if (failed.Count > 0 || c.Primary is null)
            {
                c.Replicas.RemoveAll(s => failed.Contains(s.Id));
                if (c.Replicas.Count == 0)
                {
                    throw new GfsException(ErrorCode.Unavailable, "no replica left");
                }

                c.Version++;
                foreach (var server in c.Replicas)
                {
                    server.Replicas[c.Handle].Version = c.Version;
                }

                if (c.Primary is null || failed.Contains(c.Primary.Id))
                {
                    c.Primary = c.Replicas[0];
                }
            }

            if (Time is { } clock && (c.LeaseEnd <= clock.GetUtcNow() || failed.Count > 0))
            {
                c.LeaseEnd = clock.GetUtcNow() + LeaseLength + TimeSpan.FromSeconds(1);
            }

            var remaining = Time is { } now ? c.LeaseEnd - now.GetUtcNow() - TimeSpan.FromSeconds(1) : LeaseLength;
            return new LeaseChunkReply { Chunk = Location(c), PrimaryId = c.Primary.Id, LeaseRemainingMs = (long)remaining.TotalMilliseconds, ChunkSize = file.ChunkSize };
        }
    }
}
