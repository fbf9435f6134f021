using Gfs.Client.Protocol;
using Gfs.Client.Protocol.Chunk;

namespace Gfs.Client.Data;

/// <summary>
/// Record append (exactly once): push the record, then <c>chunk/Append</c> to the primary of the
/// file's last chunk with a fresh (client id, sequence). A retry after a failure reuses the sequence
/// on the same chunk, so the primary (or a new one: every replica keeps the table) answers the first
/// offset instead of writing the record twice. A padded chunk wrote nothing: the record moves to
/// the next chunk with a new sequence.
/// </summary>
internal sealed class RecordAppender(ClientCore core)
{
    /// <summary>
    /// Appends <paramref name="record"/> to the file at <paramref name="path"/>: the one its (perhaps
    /// cached) attributes name. When that file was replaced and no attempt of this record reached a
    /// primary yet, the attributes were merely old: the append starts again on the file the path
    /// names now. Otherwise a replaced file fails the append with FileReplaced.
    /// </summary>
    public async Task<long> AppendAsync(string path, ReadOnlyMemory<byte> record, CancellationToken cancellationToken)
    {
        for (var fresh = false; ; fresh = true)
        {
            var attributes = await core.Locations.GetAttributesAsync(path, cancellationToken).ConfigureAwait(false);
            var sent = false;
            try
            {
                return await AppendAsync(path, attributes, record, () => sent = true, cancellationToken).ConfigureAwait(false);
            }
            catch (GfsException e) when (e.Code == ErrorCode.FileReplaced)
            {
                core.Locations.Invalidate(path);
                if (fresh || sent)
                {
                    throw;
                }
            }
        }
    }

    private async Task<long> AppendAsync(string path, Protocol.Master.EntryAttributes attributes, ReadOnlyMemory<byte> record, Action sending, CancellationToken cancellationToken)
    {
        var chunkSize = attributes.ChunkSize;
        if (record.IsEmpty || record.Length > chunkSize / 4)
        {
            throw new GfsException(ErrorCode.InvalidArgument, $"{path}: a record must hold 1 to {chunkSize / 4} bytes (a quarter of the chunk size); this one has {record.Length}");
        }

        var index = Math.Max(core.Locations.AppendIndex(path), Math.Max(attributes.Count - 1, 0));
        while (true)
        {
            var sequence = core.NextSequence();
            var reply = await core.MutateChunkAsync(
                path,
                attributes.Id,
                index,
                allocate: true,
                record,
                async (lease, data, ct) =>
                {
                    var request = new AppendRequest
                    {
                        Handle = lease.Handle,
                        Version = lease.Version,
                        DataId = data.DataId,
                        Data = data.Inline,
                        Crc32C = data.Crc32C,
                        Length = record.Length,
                        ClientId = core.ClientId,
                        Sequence = sequence,
                    };
                    sending();
                    var appended = await core.Data.AppendAsync(lease.PrimaryUri, request, ct).ConfigureAwait(false);
                    return (appended, appended.FailedReplicas);
                },
                leased: null,
                beforeCommit: null,
                cancellationToken).ConfigureAwait(false);

            if (reply.Padded)
            {
                // The chunk is full; whoever allocates the next one first, we all append there.
                index++;
                core.Locations.RaiseAppendIndex(path, index);
                continue;
            }

            if (reply.Offset < 0 || reply.Offset + record.Length > chunkSize)
            {
                throw new GfsException(ErrorCode.Internal, $"{path}: the primary placed a {record.Length}-byte record at {reply.Offset} of a {chunkSize}-byte chunk");
            }

            core.Locations.RaiseAppendIndex(path, index);
            var fileOffset = ((long)index * chunkSize) + reply.Offset;
            core.Lengths.Report(path, attributes.Id, fileOffset + record.Length);
            return fileOffset;
        }
    }
}
