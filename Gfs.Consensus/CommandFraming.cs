using System.Buffers;
using System.Buffers.Binary;

namespace Gfs.Consensus;

/// <summary>
/// Log-entry framing: <c>u8 version=1, u64 proposal id (little-endian), command bytes</c>. The proposal id
/// lets the proposing node match an applied entry to the caller waiting for it, even if an entry
/// at the same index was replaced after a leadership change.
/// </summary>
internal static class CommandFraming
{
    public const byte Version = 1;
    public const int HeaderLength = 9;

    public static byte[] Frame(ulong proposalId, ReadOnlySpan<byte> command)
    {
        var framed = new byte[HeaderLength + command.Length];
        framed[0] = Version;
        BinaryPrimitives.WriteUInt64LittleEndian(framed.AsSpan(1), proposalId);
        command.CopyTo(framed.AsSpan(HeaderLength));
        return framed;
    }

    public static bool TryUnframe(ReadOnlySequence<byte> entry, out ulong proposalId, out ReadOnlySequence<byte> command)
    {
        proposalId = 0;
        command = default;
        if (entry.Length < HeaderLength)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        entry.Slice(0, HeaderLength).CopyTo(header);
        if (header[0] != Version)
        {
            return false;
        }

        proposalId = BinaryPrimitives.ReadUInt64LittleEndian(header[1..]);
        command = entry.Slice(HeaderLength);
        return true;
    }
}
