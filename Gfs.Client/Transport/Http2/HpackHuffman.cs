namespace Gfs.Client.Transport.Http2;

/// <summary>
/// The HPACK Huffman code (RFC 7541 Appendix B). The code is canonical: codes of one length are
/// consecutive and ordered by symbol, and each length's first code follows the previous length's
/// last code. So the bit length of every symbol determines the whole table, and the decoder is
/// built from the lengths alone.
/// </summary>
internal static class HpackHuffman
{
    public const int Eos = 256;

    /// <summary>Code length in bits of symbols 0 to 256 (256 is EOS), from RFC 7541 Appendix B.</summary>
    internal static ReadOnlySpan<byte> CodeLengths =>
    [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0-15
        28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 16-31
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, // 32-47  ' ' ! " # $ % & ' ( ) * + , - . /
        5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, // 48-63  0-9 : ; < = > ?
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, // 64-79  @ A-O
        7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, // 80-95  P-Z [ \ ] ^ _
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, // 96-111 ` a-o
        6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, // 112-127 p-z { | } ~ DEL
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128-143
        24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144-159
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160-175
        21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176-191
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192-207
        19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208-223
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224-239
        26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240-255
        30, // 256 EOS
    ];

    /// <summary>
    /// The decoding tree: node n has children <c>Tree[2n]</c> (bit 0) and <c>Tree[2n + 1]</c> (bit 1);
    /// a child is another node's index when positive, or a symbol s stored as <c>-(s + 1)</c>.
    /// Zero marks a code that does not exist. Node 0 is the root.
    /// </summary>
    private static readonly int[] Tree = Build(out Codes);

    private static readonly uint[] Codes;

    /// <summary>The code of <paramref name="symbol"/>, right-aligned (for tests and encoders).</summary>
    public static uint CodeOf(int symbol) => Codes[symbol];

    /// <summary>Decodes <paramref name="source"/> into <paramref name="destination"/>; returns the bytes written or -1 when the input is not a valid Huffman string.</summary>
    public static int Decode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var node = 0;
        var written = 0;
        var bitsSinceSymbol = 0; // bits read since the last symbol: the padding when the input ends
        var paddingAllOnes = true;
        foreach (var b in source)
        {
            for (var shift = 7; shift >= 0; shift--)
            {
                var bit = (b >> shift) & 1;
                var next = Tree[(node * 2) + bit];
                bitsSinceSymbol++;
                paddingAllOnes &= bit == 1;
                if (next == 0)
                {
                    return -1;
                }

                if (next > 0)
                {
                    node = next;
                    continue;
                }

                var symbol = -next - 1;
                if (symbol == Eos || written == destination.Length)
                {
                    return -1; // EOS inside a string is an error (RFC 7541 §5.2)
                }

                destination[written++] = (byte)symbol;
                node = 0;
                bitsSinceSymbol = 0;
                paddingAllOnes = true;
            }
        }

        // Padding: at most 7 bits, all ones (a prefix of EOS).
        return bitsSinceSymbol > 7 || !paddingAllOnes ? -1 : written;
    }

    /// <summary>The most bytes <paramref name="encodedLength"/> Huffman-coded bytes can decode to (the shortest code has 5 bits).</summary>
    public static int MaxDecodedLength(int encodedLength) => (int)(((long)encodedLength * 8) / 5);

    private static int[] Build(out uint[] codeTable)
    {
        var lengths = CodeLengths;
        codeTable = new uint[lengths.Length];

        // Canonical assignment: by length, then by symbol.
        var code = 0u;
        var previousLength = 0;
        var order = Enumerable.Range(0, lengths.Length).OrderBy(s => CodeLengths[s]).ThenBy(s => s).ToArray();
        foreach (var symbol in order)
        {
            var length = lengths[symbol];
            code <<= length - previousLength;
            codeTable[symbol] = code;
            code++;
            previousLength = length;
        }

        // 257 leaves need 256 inner nodes.
        var tree = new int[2 * 256];
        var nodes = 1;
        for (var symbol = 0; symbol < lengths.Length; symbol++)
        {
            var node = 0;
            for (var i = lengths[symbol] - 1; i >= 0; i--)
            {
                var bit = (int)((codeTable[symbol] >> i) & 1);
                var slot = (node * 2) + bit;
                if (i == 0)
                {
                    tree[slot] = -(symbol + 1);
                }
                else
                {
                    if (tree[slot] == 0)
                    {
                        tree[slot] = nodes++;
                    }

                    node = tree[slot];
                }
            }
        }

        return tree;
    }
}
