using System.Collections.Concurrent;
using System.IO.Hashing;
using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;
using Gfs.Node.Rpc;

namespace Gfs.Node.Chunkserver;

internal sealed partial class ChunkserverService
{
    private const int MaxChain = 16;
    private const int MaxDataIdLength = 256;

    /// <summary>Pushes being received, by data id (what has arrived so far; for status and tests).</summary>
    internal ConcurrentDictionary<string, BufferedData> Receiving { get; } = new(StringComparer.Ordinal);

    private async ValueTask<PushReply> PushAsync(PushHeader header, RpcUpload upload, RpcContext context)
    {
        var started = time.GetTimestamp();
        var budget = Budget(context);
        if (string.IsNullOrEmpty(header.DataId) || header.DataId.Length > MaxDataIdLength)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"a push needs a data id of 1 to {MaxDataIdLength} characters");
        }

        if (header.Length < 0 || header.Length > ChunkserverOptions.MaxPushBytes || upload.Length != header.Length)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"push {header.DataId}: length {header.Length} (body {upload.Length}) must be between 0 and {ChunkserverOptions.MaxPushBytes} and match the body");
        }

        if (header.Chain.Count > MaxChain)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"push {header.DataId}: a chain of {header.Chain.Count} is longer than {MaxChain}");
        }

        var chain = new List<Uri>(header.Chain.Count);
        foreach (var hop in header.Chain)
        {
            chain.Add(Uri.TryCreate(hop, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
                ? uri
                : throw new GfsException(ErrorCode.InvalidArgument, $"push {header.DataId}: chain entry '{hop}' is not an http(s) URL"));
        }

        // Waiting for room ends well before the caller's deadline, so the caller hears Unavailable.
        var data = await Buffer.ReserveAsync(header.Length, budget * 3 / 4, context.CancellationToken).ConfigureAwait(false);
        var published = false;
        PushForwarder? forwarder = null;
        try
        {
            if (chain.Count > 0)
            {
                var downstream = new PushHeader { DataId = header.DataId, Length = header.Length, Crc32C = header.Crc32C, Chain = header.Chain[1..] };
                var left = budget - time.GetElapsedTime(started);
                forwarder = PushForwarder.Start(rpc, chain[0], downstream, left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1), context.CancellationToken);
            }

            Receiving[header.DataId] = data;
            var crc = new Crc32(Crc32ParameterSet.Crc32C);
            var copied = new List<ReadOnlyMemory<byte>>(4);
            await upload.ConsumeAsync(
                (received, _) =>
                {
                    foreach (var memory in received)
                    {
                        copied.Clear();
                        data.Append(memory.Span, copied);
                        foreach (var piece in copied)
                        {
                            crc.Append(piece.Span);
                            forwarder?.Feed(piece);
                        }
                    }

                    return ValueTask.CompletedTask;
                },
                context.CancellationToken).ConfigureAwait(false);

            if (crc.GetCurrentHashAsUInt32() != header.Crc32C)
            {
                throw new GfsException(ErrorCode.ChecksumMismatch, $"push {header.DataId}: the {header.Length} bytes received do not match their CRC32C");
            }

            var reply = new PushReply { Buffered = [Url] };
            if (forwarder is not null)
            {
                var (next, error) = await forwarder.FinishAsync(abort: false).ConfigureAwait(false);
                forwarder = null;
                if (next is not null)
                {
                    reply.Buffered.AddRange(next.Buffered);
                    reply.Failed.AddRange(next.Failed);
                }
                else
                {
                    ChunkserverLog.ForwardFailed(logger, header.DataId, header.Length, header.Chain[0], error?.Message ?? "no reply");
                    reply.Failed.AddRange(header.Chain);
                }
            }

            Buffer.Publish(header.DataId, data);
            published = true;
            return reply;
        }
        finally
        {
            Receiving.TryRemove(new KeyValuePair<string, BufferedData>(header.DataId, data));
            if (forwarder is not null)
            {
                await forwarder.FinishAsync(abort: true).ConfigureAwait(false);
            }

            if (!published)
            {
                data.Release();
            }
        }
    }
}
