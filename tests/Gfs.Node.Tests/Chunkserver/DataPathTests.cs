using System.Security.Cryptography;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Testing;

namespace Gfs.Node.Tests.Chunkserver;

public sealed class DataPathTests
{
    private static readonly int[] All = [0, 1, 2];

    [Fact]
    public async Task Write_ThroughPushChain_StoresIdenticalBytesOnEveryReplica()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync();
        await cluster.GrantAsync(handle: 11, version: 1, replicas: All, create: true);
        var first = ChunkserverTestCluster.Random(3 << 20, 1);
        var second = ChunkserverTestCluster.Random((1 << 20) + 12345, 2);

        // The client pushes to the nearest replica (here a secondary); the chain covers the rest.
        var pushed = await cluster.PushAsync("d1", first, [1, 2, 0]);
        Assert.Equal([cluster[1].Url, cluster[2].Url, cluster[0].Url], pushed.Buffered);
        Assert.Empty(pushed.Failed);
        var written = await cluster.WriteAsync(0, 11, 1, 0, "d1", first.Length);
        Assert.Empty(written.FailedReplicas);
        Assert.Equal(first.Length, written.ChunkLength);

        await cluster.PushAsync("d2", second, [0, 1, 2]);
        written = await cluster.WriteAsync(0, 11, 1, first.Length, "d2", second.Length);
        Assert.Empty(written.FailedReplicas);

        var expected = SHA256.HashData([.. first, .. second]);
        for (var i = 0; i < 3; i++)
        {
            var (header, data) = await cluster.ReadAsync(i, 11, 1);
            Assert.Equal(1, header.Version);
            Assert.Equal(first.Length + second.Length, header.ChunkLength);
            Assert.Equal(expected, SHA256.HashData(data));
            var info = await cluster.InfoAsync(i, 11);
            Assert.Equal(first.Length + second.Length, info.Length);

            // Used data leaves the buffers.
            Assert.Equal(0, cluster[i].Service.Buffer.BufferedBytes);
        }

        // A partial read from the middle.
        var (_, middle) = await cluster.ReadAsync(2, 11, 1, offset: 1000, length: 5000);
        Assert.Equal(first.AsSpan(1000, 5000).ToArray(), middle);
    }

    [Fact]
    public async Task Push_ForwardsDownstreamWhileTheUpstreamBodyIsStillArriving()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync();
        var data = ChunkserverTestCluster.Random(2 << 20, 3);
        var header = new PushHeader { DataId = "pipelined", Length = data.Length, Crc32C = ChunkserverTestCluster.Crc(data), Chain = [cluster[1].Url, cluster[2].Url] };
        var downstreamSawBytesEarly = false;
        var reply = await cluster.Client.UploadAsync<PushHeader, PushReply>(cluster.Url(0), ChunkRoutes.Push, header, data.Length, async (stream, ct) =>
        {
            await stream.WriteAsync(data.AsMemory(0, 1 << 20), ct);
            await stream.FlushAsync(ct);

            // The tail is held back until the last hop has bytes: without pipelining this never happens.
            await Retry.Until(
                "the last chunkserver of the chain receives bytes",
                () => cluster[2].Service.Buffer.FindAny("pipelined") is { Filled: > 0 },
                TimeSpan.FromSeconds(20));
            downstreamSawBytesEarly = cluster[2].Service.Buffer.FindAny("pipelined")!.Filled < data.Length;
            await stream.WriteAsync(data.AsMemory(1 << 20), ct);
        });

        Assert.True(downstreamSawBytesEarly);
        Assert.Equal(3, reply.Buffered.Count);
        Assert.Empty(reply.Failed);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(data.Length, cluster[i].Service.Buffer.BufferedBytes);
        }
    }

    [Fact]
    public async Task Push_WithWrongCrc_IsRefusedAndNothingIsBuffered()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync();
        await cluster.GrantAsync(12, 1, All, create: true);
        var data = ChunkserverTestCluster.Random(300_000, 4);
        var error = await ChunkserverTestCluster.Refused(() => cluster.PushAsync("bad", data, [0, 1, 2], crc: ChunkserverTestCluster.Crc(data) ^ 1));
        Assert.Equal(ErrorCode.ChecksumMismatch, error.Code);

        for (var i = 0; i < 3; i++)
        {
            var index = i;
            await Retry.Until($"chunkserver {i} released the bad push", () => cluster[index].Service.Buffer.BufferedBytes == 0, TimeSpan.FromSeconds(10));
        }

        error = await ChunkserverTestCluster.Refused(() => cluster.WriteAsync(0, 12, 1, 0, "bad", data.Length));
        Assert.Equal(ErrorCode.NotFound, error.Code);
        Assert.Equal(0, (await cluster.InfoAsync(0, 12)).Length);
    }

    [Fact]
    public async Task StaleVersions_AreRefusedOnWriteApplyAndRead()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync();
        await cluster.GrantAsync(13, 1, All, create: true);
        var data = ChunkserverTestCluster.Random(100_000, 5);
        await cluster.PushAsync("v1", data, [0, 1, 2]);
        Assert.Empty((await cluster.WriteAsync(0, 13, 1, 0, "v1", data.Length)).FailedReplicas);

        // A new lease raises the version on every replica.
        await cluster.GrantAsync(13, 2, All, create: false);
        await cluster.PushAsync("v2", data, [0, 1, 2]);
        Assert.Equal(ErrorCode.StaleVersion, (await ChunkserverTestCluster.Refused(() => cluster.WriteAsync(0, 13, 1, 0, "v2", data.Length))).Code);
        Assert.Equal(ErrorCode.StaleVersion, (await ChunkserverTestCluster.Refused(() => cluster.Client.CallAsync<ApplyRequest, ApplyReply>(
            cluster.Url(1), ChunkRoutes.Apply, new ApplyRequest { Handle = 13, Version = 1, Kind = MutationKind.Write, Offset = 0, DataId = "v2", Length = data.Length }))).Code);
        Assert.Equal(ErrorCode.StaleVersion, (await ChunkserverTestCluster.Refused(() => cluster.ReadAsync(2, 13, 1))).Code);
        Assert.Equal(ErrorCode.NotFound, (await ChunkserverTestCluster.Refused(() => cluster.ReadAsync(2, 999, 1))).Code);

        // Going backwards is refused too; the current version works.
        Assert.Equal(ErrorCode.StaleVersion, (await ChunkserverTestCluster.Refused(() => cluster.GrantAsync(13, 1, All, create: false))).Code);
        Assert.Empty((await cluster.WriteAsync(0, 13, 2, data.Length, "v2", data.Length)).FailedReplicas);
        Assert.Equal(2 * data.Length, (await cluster.ReadAsync(1, 13, 2)).Data.Length);
    }

    [Fact]
    public async Task Write_WithoutLiveLease_IsRefused()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync();
        await cluster.GrantAsync(14, 1, All, create: true, leaseMs: 30_000);
        var data = ChunkserverTestCluster.Random(10_000, 6);
        await cluster.PushAsync("l", data, [0, 1, 2]);

        // A secondary holds no lease.
        Assert.Equal(ErrorCode.LeaseExpired, (await ChunkserverTestCluster.Refused(() => cluster.WriteAsync(1, 14, 1, 0, "l", data.Length))).Code);

        // The primary's lease runs out on its monotonic clock.
        cluster.Time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(ErrorCode.LeaseExpired, (await ChunkserverTestCluster.Refused(() => cluster.WriteAsync(0, 14, 1, 0, "l", data.Length))).Code);
        Assert.Equal(0, (await cluster.InfoAsync(0, 14)).Length);
    }

    [Fact]
    public async Task InlineWriteAndAppend_ReachEveryReplica_WithoutAPush()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync();
        await cluster.GrantAsync(handle: 12, version: 1, replicas: All, create: true);
        var small = ChunkserverTestCluster.Random(4096, 3);
        var record = ChunkserverTestCluster.Random(1000, 4);

        var written = await cluster.WriteInlineAsync(0, 12, 1, 0, small);
        Assert.Empty(written.FailedReplicas);
        var appended = await cluster.AppendInlineAsync(0, 12, 1, record, clientId: 5, sequence: 1);
        Assert.Equal(small.Length, appended.Offset);
        var again = await cluster.AppendInlineAsync(0, 12, 1, record, clientId: 5, sequence: 1);
        Assert.True(again.Replayed);
        Assert.Equal(appended.Offset, again.Offset);

        for (var i = 0; i < 3; i++)
        {
            var (header, data) = await cluster.ReadAsync(i, 12, 1);
            Assert.Equal(small.Length + record.Length, header.ChunkLength);
            Assert.Equal([.. small, .. record], data);
            Assert.Equal(0, cluster[i].Service.Buffer.BufferedBytes);
        }
    }

    [Fact]
    public async Task IdleChunkStates_AreDroppedOnceTheLeaseEnded_AndTheChunkWorksAfterTheNextGrant()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync(configure: o =>
        {
            o.ChunkStateIdle = TimeSpan.FromMilliseconds(300);
            o.BufferTtl = TimeSpan.FromSeconds(1); // the sweep that evicts runs every 250 ms
        });
        await cluster.GrantAsync(handle: 21, version: 1, replicas: All, create: true);
        var first = ChunkserverTestCluster.Random(1000, 7);
        var second = ChunkserverTestCluster.Random(2000, 8);
        Assert.Equal(0, (await cluster.AppendInlineAsync(0, 21, 1, first, clientId: 3, sequence: 1)).Offset);

        // Idle, but the primary still holds its lease: its state stays.
        await Retry.Until("the secondaries drop their idle states", () => cluster[1].Service.Chunks.Find(21) is null && cluster[2].Service.Chunks.Find(21) is null, TimeSpan.FromSeconds(10));
        Assert.NotNull(cluster[0].Service.Chunks.Find(21));

        cluster.Time.Advance(TimeSpan.FromSeconds(62)); // the lease ends on the primary's clock
        await Retry.Until("the primary drops its idle state", () => cluster[0].Service.Chunks.Find(21) is null, TimeSpan.FromSeconds(10));

        await cluster.GrantAsync(handle: 21, version: 2, replicas: All, create: false);

        // The append table is kept with the data, not in the dropped state: a late retry still finds the record.
        var replayed = await cluster.AppendInlineAsync(0, 21, 2, first, clientId: 3, sequence: 1);
        Assert.True(replayed.Replayed);
        Assert.Equal(0, replayed.Offset);
        Assert.Empty(replayed.FailedReplicas);

        var appended = await cluster.AppendInlineAsync(0, 21, 2, second, clientId: 3, sequence: 2);
        Assert.Equal(first.Length, appended.Offset);
        Assert.Empty(appended.FailedReplicas);
        byte[] both = [.. first, .. second];
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(both, (await cluster.ReadAsync(i, 21, 2)).Data);
        }
    }

    [Fact]
    public async Task InlineWrite_WithAWrongCrcOrTooManyBytes_IsRefusedAndChangesNothing()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync();
        await cluster.GrantAsync(handle: 13, version: 1, replicas: All, create: true);
        var data = ChunkserverTestCluster.Random(4096, 6);

        var bad = await Assert.ThrowsAsync<GfsException>(() => cluster.WriteInlineAsync(0, 13, 1, 0, data, crc: 12345));
        Assert.Equal(ErrorCode.ChecksumMismatch, bad.Code);
        var large = await Assert.ThrowsAsync<GfsException>(() => cluster.WriteInlineAsync(0, 13, 1, 0, ChunkserverTestCluster.Random(ChunkRoutes.MaxInlineBytes + 1, 7)));
        Assert.Equal(ErrorCode.InvalidArgument, large.Code);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(0, (await cluster.InfoAsync(i, 13)).Length);
        }

        // The server is still fine: a correct inline write goes through.
        Assert.Empty((await cluster.WriteInlineAsync(0, 13, 1, 0, data)).FailedReplicas);
    }

    [Fact]
    public async Task Append_PicksSerialOffsets_AndARetryIsExactlyOnce()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync();
        await cluster.GrantAsync(15, 1, All, create: true, chunkSize: 4 << 20);
        var records = Enumerable.Range(0, 8).Select(i => ChunkserverTestCluster.Random(50_000 + (i * 1000), 100 + i)).ToArray();
        for (var i = 0; i < records.Length; i++)
        {
            await cluster.PushAsync($"r{i}", records[i], [i % 3, (i + 1) % 3, (i + 2) % 3]);
        }

        var replies = await Task.WhenAll(records.Select((r, i) => cluster.AppendAsync(0, 15, 1, $"r{i}", r.Length, clientId: i % 2, sequence: i)));
        Assert.All(replies, r => Assert.Empty(r.FailedReplicas));
        Assert.All(replies, r => Assert.False(r.Padded || r.Replayed));
        var total = records.Sum(r => r.Length);
        var ordered = replies.Select((r, i) => (r.Offset, Length: records[i].Length)).OrderBy(x => x.Offset).ToList();
        long expectedOffset = 0;
        foreach (var (offset, length) in ordered)
        {
            Assert.Equal(expectedOffset, offset);
            expectedOffset += length;
        }

        // The retry of record 5 (same client and sequence, pushed again) lands nowhere new.
        await cluster.PushAsync("r5-again", records[5], [0, 1, 2]);
        var retry = await cluster.AppendAsync(0, 15, 1, "r5-again", records[5].Length, clientId: 1, sequence: 5);
        Assert.True(retry.Replayed);
        Assert.Equal(replies[5].Offset, retry.Offset);
        Assert.Empty(retry.FailedReplicas);

        for (var s = 0; s < 3; s++)
        {
            var (header, data) = await cluster.ReadAsync(s, 15, 1);
            Assert.Equal(total, header.ChunkLength);
            for (var i = 0; i < records.Length; i++)
            {
                Assert.Equal(records[i], data.AsSpan((int)replies[i].Offset, records[i].Length).ToArray());
            }
        }
    }

    [Fact]
    public async Task Append_ThatDoesNotFit_PadsTheChunkOnEveryReplica()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync();
        const int chunkSize = 256 * 1024;
        await cluster.GrantAsync(16, 1, All, create: true, chunkSize: chunkSize);
        var record = ChunkserverTestCluster.Random(60 * 1024, 7);
        for (var i = 0; i < 4; i++)
        {
            await cluster.PushAsync($"p{i}", record, [0, 1, 2]);
            var appended = await cluster.AppendAsync(0, 16, 1, $"p{i}", record.Length, 9, i);
            Assert.Equal(i * record.Length, appended.Offset);
        }

        await cluster.PushAsync("p4", record, [0, 1, 2]);
        var padded = await cluster.AppendAsync(0, 16, 1, "p4", record.Length, 9, 4);
        Assert.True(padded.Padded);
        Assert.Equal(-1, padded.Offset);
        Assert.Empty(padded.FailedReplicas);

        // Too large a record is refused outright.
        var huge = ChunkserverTestCluster.Random((chunkSize / 4) + 1, 8);
        await cluster.PushAsync("huge", huge, [0, 1, 2]);
        Assert.Equal(ErrorCode.InvalidArgument, (await ChunkserverTestCluster.Refused(() => cluster.AppendAsync(0, 16, 1, "huge", huge.Length, 9, 5))).Code);

        for (var s = 0; s < 3; s++)
        {
            var (header, data) = await cluster.ReadAsync(s, 16, 1);
            Assert.Equal(chunkSize, header.ChunkLength);
            Assert.Equal(record, data.AsSpan(3 * record.Length, record.Length).ToArray());
            Assert.True(data.AsSpan(4 * record.Length).IndexOfAnyExcept((byte)0) < 0);
        }
    }

    [Fact]
    public async Task Write_WhenASecondaryIsDown_ReportsItInFailedReplicas()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync();
        await cluster.GrantAsync(17, 1, All, create: true);
        var data = ChunkserverTestCluster.Random(200_000, 9);
        await cluster.PushAsync("f", data, [0, 1, 2]);
        var downId = cluster[2].ServerId;
        var downUrl = cluster[2].Url;
        await cluster.StopAsync(2);

        var written = await cluster.WriteAsync(0, 17, 1, 0, "f", data.Length);
        Assert.Equal([downId], written.FailedReplicas);
        Assert.Equal(data, (await cluster.ReadAsync(0, 17, 1)).Data);
        Assert.Equal(data, (await cluster.ReadAsync(1, 17, 1)).Data);

        // A push through the dead hop reports it, and the live hops still buffer the data.
        var pushed = await cluster.Client.UploadAsync<PushHeader, PushReply>(cluster.Url(0), ChunkRoutes.Push, new PushHeader
        {
            DataId = "g",
            Length = data.Length,
            Crc32C = ChunkserverTestCluster.Crc(data),
            Chain = [cluster[1].Url, downUrl],
        }, data);
        Assert.Equal([cluster[0].Url, cluster[1].Url], pushed.Buffered);
        Assert.Equal([downUrl], pushed.Failed);
    }

    [Fact]
    public async Task Push_WhenTheBufferIsFull_WaitsThenFailsWithBusy()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync(count: 1, configure: o => o.BufferBytes = 1 << 20);
        await cluster.GrantAsync(18, 1, [0], create: true);
        var data = ChunkserverTestCluster.Random(700 * 1024, 10);
        await cluster.PushAsync("held", data, [0]);

        var error = await ChunkserverTestCluster.Refused(() => cluster.PushAsync("more", data, [0], timeout: TimeSpan.FromSeconds(2)));
        Assert.Equal(ErrorCode.Busy, error.Code);

        // Using the held data frees the room.
        await cluster.WriteAsync(0, 18, 1, 0, "held", data.Length);
        Assert.Equal([cluster[0].Url], (await cluster.PushAsync("more", data, [0])).Buffered);
    }

    [Fact]
    public async Task Push_WhenTheLastServerOfTheChainHasAFullBuffer_ListsItBusy_AndTheSameChainTakesTheDataOnceThereIsRoom()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync(configure: o => o.BufferBytes = 1 << 20);
        await cluster.GrantAsync(22, 1, All, create: true);
        var data = ChunkserverTestCluster.Random(700 * 1024, 13);
        await cluster.PushAsync("held", ChunkserverTestCluster.Random(600 * 1024, 14), [2]);

        // The last hop cannot take the data in time: it is busy, not failed, and the hops before it let their copies go.
        var pushed = await cluster.PushAsync("first", data, [0, 1, 2], timeout: TimeSpan.FromSeconds(3));
        Assert.Equal([cluster[2].Url], pushed.Busy);
        Assert.Empty(pushed.Failed);
        Assert.Empty(pushed.Buffered);
        for (var i = 0; i < 2; i++)
        {
            var index = i;
            await Retry.Until($"chunkserver {i} lets the unusable copy go", () => cluster[index].Service.Buffer.BufferedBytes == 0, TimeSpan.FromSeconds(10));
        }

        // Room again on the last hop: the same chain takes the data, and the write reaches every replica.
        cluster[2].Service.Buffer.Remove("held");
        var again = await cluster.PushAsync("second", data, [0, 1, 2]);
        Assert.Equal([cluster[0].Url, cluster[1].Url, cluster[2].Url], again.Buffered);
        Assert.Empty(again.Busy);
        Assert.Empty(again.Failed);
        Assert.Empty((await cluster.WriteAsync(0, 22, 1, 0, "second", data.Length)).FailedReplicas);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(data, (await cluster.ReadAsync(i, 22, 1)).Data);
        }
    }

    [Fact]
    public async Task PushedData_ExpiresAfterItsTtl()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync(count: 1);
        await cluster.GrantAsync(19, 1, [0], create: true, leaseMs: 600_000);
        var data = ChunkserverTestCluster.Random(100_000, 11);
        await cluster.PushAsync("old", data, [0]);
        Assert.Equal(0, cluster[0].Service.Buffer.Sweep());

        cluster.Time.Advance(TimeSpan.FromSeconds(61));
        await Retry.Until("the sweeper drops the expired push", () => cluster[0].Service.Buffer.BufferedBytes == 0, TimeSpan.FromSeconds(20));
        Assert.Equal(ErrorCode.NotFound, (await ChunkserverTestCluster.Refused(() => cluster.WriteAsync(0, 19, 1, 0, "old", data.Length))).Code);
    }

    [Fact]
    public async Task Read_OfACorruptedChunkFile_FailsWithChecksumMismatch()
    {
        await using var cluster = await ChunkserverTestCluster.StartAsync(count: 1);
        await cluster.GrantAsync(20, 1, [0], create: true);
        var data = ChunkserverTestCluster.Random(300_000, 12);
        await cluster.PushAsync("c", data, [0]);
        await cluster.WriteAsync(0, 20, 1, 0, "c", data.Length);
        await cluster.StopAsync(0);

        var file = Directory.GetFiles(cluster.DataDirectory(0), "*.chunk", SearchOption.AllDirectories).Single();
        await using (var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = 200_000;
            var b = stream.ReadByte();
            stream.Position = 200_000;
            stream.WriteByte((byte)(b ^ 0xff));
        }

        await cluster.StartAsync(0);
        var error = await ChunkserverTestCluster.Refused(() => cluster.ReadAsync(0, 20, 1));
        Assert.Equal(ErrorCode.ChecksumMismatch, error.Code);
        Assert.Equal(ErrorCode.ChecksumMismatch, (await ChunkserverTestCluster.Refused(() => cluster.ReadAsync(0, 20, 1, 190_000, 20_000))).Code);

        // Bytes before the damaged block are still served.
        Assert.Equal(data.AsSpan(0, 65536).ToArray(), (await cluster.ReadAsync(0, 20, 1, 0, 65536)).Data);
    }
}
