using System.Buffers;

namespace Gfs.Node.Cli.Client;

/// <summary>Moves bytes between two streams through one pooled 8 MiB buffer: no other copy, no per-byte work.</summary>
internal static class StreamCopy
{
    public const int BufferSize = 8 << 20;

    /// <summary>
    /// Copies until the source ends and returns the bytes copied. The buffer is filled before each
    /// write, so the destination sees 8 MiB writes even when the source is a pipe that yields 64 KiB reads.
    /// </summary>
    public static async Task<long> CopyAsync(Stream source, Stream destination, TransferProgress? progress, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            long total = 0;
            while (true)
            {
                var filled = await FillAsync(source, buffer.AsMemory(0, BufferSize), cancellationToken);
                if (filled == 0)
                {
                    return total;
                }

                await destination.WriteAsync(buffer.AsMemory(0, filled), cancellationToken);
                total += filled;
                progress?.Report(total);
                if (filled < BufferSize)
                {
                    return total;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the source ends; returns the bytes read.</summary>
    public static async Task<int> FillAsync(Stream source, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = await source.ReadAsync(buffer[filled..], cancellationToken);
            if (read == 0)
            {
                break;
            }

            filled += read;
        }

        return filled;
    }
}
