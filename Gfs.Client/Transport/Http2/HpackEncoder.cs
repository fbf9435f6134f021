using System.Buffers;
using System.Text;

namespace Gfs.Client.Transport.Http2;

/// <summary>
/// Encodes request header blocks. Indexed fields for the two fixed pseudo-headers, everything else
/// as literals without indexing (static-table name indices where they exist) and without Huffman
/// coding, so the encoder keeps no state and never touches the peer's dynamic table.
/// </summary>
internal static class HpackEncoder
{
    /// <summary>Writes the header block of a Gfs RPC request.</summary>
    public static void WriteRequest(IBufferWriter<byte> output, bool https, string authority, string path, string contentType, long contentLength, string extraName, string extraValue)
    {
        WriteIndexed(output, HpackStaticTable.MethodPost);
        WriteIndexed(output, https ? HpackStaticTable.SchemeHttps : HpackStaticTable.SchemeHttp);
        WriteLiteral(output, HpackStaticTable.Authority, authority);
        WriteLiteral(output, HpackStaticTable.Path, path);
        WriteLiteral(output, HpackStaticTable.ContentType, contentType);
        WriteLiteral(output, HpackStaticTable.ContentLength, contentLength.ToString(System.Globalization.CultureInfo.InvariantCulture));
        WriteLiteral(output, extraName, extraValue);
    }

    /// <summary>An indexed header field (RFC 7541 §6.1).</summary>
    public static void WriteIndexed(IBufferWriter<byte> output, int index) => WriteInteger(output, 0x80, 7, index);

    /// <summary>A literal header field without indexing whose name is a static-table entry (RFC 7541 §6.2.2).</summary>
    public static void WriteLiteral(IBufferWriter<byte> output, int nameIndex, string value)
    {
        WriteInteger(output, 0x00, 4, nameIndex);
        WriteString(output, value);
    }

    /// <summary>A literal header field without indexing with a literal name (RFC 7541 §6.2.2).</summary>
    public static void WriteLiteral(IBufferWriter<byte> output, string name, string value)
    {
        WriteInteger(output, 0x00, 4, 0);
        WriteString(output, name);
        WriteString(output, value);
    }

    /// <summary>An integer with an N-bit prefix (RFC 7541 §5.1); <paramref name="pattern"/> holds the bits above the prefix.</summary>
    public static void WriteInteger(IBufferWriter<byte> output, byte pattern, int prefixBits, int value)
    {
        var span = output.GetSpan(6);
        var max = (1 << prefixBits) - 1;
        if (value < max)
        {
            span[0] = (byte)(pattern | value);
            output.Advance(1);
            return;
        }

        span[0] = (byte)(pattern | max);
        var written = 1;
        value -= max;
        while (value >= 0x80)
        {
            span[written++] = (byte)((value & 0x7f) | 0x80);
            value >>= 7;
        }

        span[written++] = (byte)value;
        output.Advance(written);
    }

    /// <summary>A string literal without Huffman coding (RFC 7541 §5.2). Header values here are ASCII.</summary>
    public static void WriteString(IBufferWriter<byte> output, string value)
    {
        WriteInteger(output, 0x00, 7, value.Length);
        var span = output.GetSpan(value.Length);
        var written = Encoding.Latin1.GetBytes(value, span);
        output.Advance(written);
    }
}
