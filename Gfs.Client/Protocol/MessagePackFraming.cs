using System.Buffers;
using System.Buffers.Binary;

namespace Gfs.Client.Protocol;

/// <summary>Outcome of measuring a MessagePack value in a buffer.</summary>
public enum FramingStatus
{
    /// <summary>A whole value is present; its length is known.</summary>
    Complete,

    /// <summary>The buffer ends inside the value.</summary>
    NeedMoreData,

    /// <summary>The bytes are not a MessagePack value (reserved byte 0xc1).</summary>
    Invalid,

    /// <summary>The value nests deeper than allowed.</summary>
    TooDeep,

    /// <summary>The value is, or declares itself, longer than allowed.</summary>
    TooLarge,
}

/// <summary>
/// Finds where one MessagePack value ends without deserialising it, with bounded work and no
/// allocation: it checks nesting depth and that every declared length fits the allowed size before
/// a single object is created. Servers use it to reject hostile bodies (a map declaring 10^7
/// entries, 10,000 nested arrays) cheaply, and to find where a streamed body's header ends.
/// </summary>
public static class MessagePackFraming
{
    /// <summary>
    /// Measures the MessagePack value at the start of <paramref name="buffer"/>.
    /// </summary>
    /// <param name="buffer">Bytes received so far.</param>
    /// <param name="maxDepth">Deepest nesting accepted.</param>
    /// <param name="maxLength">Longest value accepted, in bytes.</param>
    /// <param name="length">When <see cref="FramingStatus.Complete"/>, the value's length in bytes.</param>
    public static FramingStatus Measure(ReadOnlySequence<byte> buffer, int maxDepth, long maxLength, out long length)
    {
        var reader = new SequenceReader<byte>(buffer);
        length = 0;

        // remaining[d] counts the elements still expected at nesting level d.
        Span<long> remaining = maxDepth <= 128 ? stackalloc long[maxDepth + 1] : new long[maxDepth + 1];
        var depth = 0;
        remaining[0] = 1;

        while (true)
        {
            while (depth >= 0 && remaining[depth] == 0)
            {
                depth--;
            }

            if (depth < 0)
            {
                length = reader.Consumed;
                return FramingStatus.Complete;
            }

            remaining[depth]--;
            if (!reader.TryRead(out var code))
            {
                return FramingStatus.NeedMoreData;
            }

            long skip;
            long children = 0;
            switch (code)
            {
                case <= 0x7f or >= 0xe0 or 0xc0 or 0xc2 or 0xc3:
                    skip = 0;
                    break;
                case >= 0x80 and <= 0x8f:
                    children = 2L * (code & 0x0f);
                    skip = 0;
                    break;
                case >= 0x90 and <= 0x9f:
                    children = code & 0x0f;
                    skip = 0;
                    break;
                case >= 0xa0 and <= 0xbf:
                    skip = code & 0x1f;
                    break;
                case 0xc1:
                    return FramingStatus.Invalid;
                case 0xc4 or 0xd9:
                    if (!TryReadLength(ref reader, 1, out skip))
                    {
                        return FramingStatus.NeedMoreData;
                    }

                    break;
                case 0xc5 or 0xda:
                    if (!TryReadLength(ref reader, 2, out skip))
                    {
                        return FramingStatus.NeedMoreData;
                    }

                    break;
                case 0xc6 or 0xdb:
                    if (!TryReadLength(ref reader, 4, out skip))
                    {
                        return FramingStatus.NeedMoreData;
                    }

                    break;
                case 0xc7:
                    if (!TryReadLength(ref reader, 1, out skip))
                    {
                        return FramingStatus.NeedMoreData;
                    }

                    skip += 1;
                    break;
                case 0xc8:
                    if (!TryReadLength(ref reader, 2, out skip))
                    {
                        return FramingStatus.NeedMoreData;
                    }

                    skip += 1;
                    break;
                case 0xc9:
                    if (!TryReadLength(ref reader, 4, out skip))
                    {
                        return FramingStatus.NeedMoreData;
                    }

                    skip += 1;
                    break;
                case 0xca or 0xce or 0xd2:
                    skip = 4;
                    break;
                case 0xcb or 0xcf or 0xd3:
                    skip = 8;
                    break;
                case 0xcc or 0xd0:
                    skip = 1;
                    break;
                case 0xcd or 0xd1:
                    skip = 2;
                    break;
                case 0xd4:
                    skip = 2;
                    break;
                case 0xd5:
                    skip = 3;
                    break;
                case 0xd6:
                    skip = 5;
                    break;
                case 0xd7:
                    skip = 9;
                    break;
                case 0xd8:
                    skip = 17;
                    break;
                case 0xdc:
                    if (!TryReadLength(ref reader, 2, out children))
                    {
                        return FramingStatus.NeedMoreData;
                    }

                    skip = 0;
                    break;
                case 0xdd:
                    if (!TryReadLength(ref reader, 4, out children))
                    {
                        return FramingStatus.NeedMoreData;
                    }

                    skip = 0;
                    break;
                case 0xde:
                    if (!TryReadLength(ref reader, 2, out children))
                    {
                        return FramingStatus.NeedMoreData;
                    }

                    children *= 2;
                    skip = 0;
                    break;
                default: // 0xdf
                    if (!TryReadLength(ref reader, 4, out children))
                    {
                        return FramingStatus.NeedMoreData;
                    }

                    children *= 2;
                    skip = 0;
                    break;
            }

            // Every element takes at least one byte, so a declared count or payload larger than what
            // may still arrive is refused before anything is read or allocated.
            var budget = maxLength - reader.Consumed;
            if (skip > budget || children > budget)
            {
                return FramingStatus.TooLarge;
            }

            if (skip > 0)
            {
                if (reader.Remaining < skip)
                {
                    return FramingStatus.NeedMoreData;
                }

                reader.Advance(skip);
            }

            if (children > 0)
            {
                if (depth == maxDepth)
                {
                    return FramingStatus.TooDeep;
                }

                remaining[++depth] = children;
            }
        }
    }

    private static bool TryReadLength(ref SequenceReader<byte> reader, int width, out long value)
    {
        Span<byte> bytes = stackalloc byte[4];
        if (!reader.TryCopyTo(bytes[..width]))
        {
            value = 0;
            return false;
        }

        reader.Advance(width);
        value = width switch
        {
            1 => bytes[0],
            2 => BinaryPrimitives.ReadUInt16BigEndian(bytes),
            _ => BinaryPrimitives.ReadUInt32BigEndian(bytes),
        };
        return true;
    }
}
