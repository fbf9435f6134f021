using Gfs.Client.Transport.Http2;

namespace Gfs.Client.Tests.Transport.Http2;

/// <summary>The examples of RFC 7541 Appendix C, decoded in sequence on one decoder as the RFC does.</summary>
public sealed class HpackDecoderTests
{
    private static readonly (string, string)[] Request1 = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")];
    private static readonly (string, string)[] Request2 = [.. Request1, ("cache-control", "no-cache")];
    private static readonly (string, string)[] Request3 = [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"), ("custom-key", "custom-value")];
    private static readonly (string, string)[] Response1 = [(":status", "302"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("location", "https://www.example.com")];
    private static readonly (string, string)[] Response2 = [(":status", "307"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("location", "https://www.example.com")];
    private static readonly (string, string)[] Response3 =
    [
        (":status", "200"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:22 GMT"), ("location", "https://www.example.com"),
        ("content-encoding", "gzip"), ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
    ];

    [Fact]
    public void C2_LiteralRepresentations()
    {
        var decoder = new HpackDecoder();

        Assert.Equal([("custom-key", "custom-header")], Decode(decoder, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"));
        Assert.Equal(55, decoder.DynamicTableSize);
        Assert.Equal([(":path", "/sample/path")], Decode(new HpackDecoder(), "040c 2f73 616d 706c 652f 7061 7468"));
        Assert.Equal([("password", "secret")], Decode(new HpackDecoder(), "1008 7061 7373 776f 7264 0673 6563 7265 74"));
        var indexed = new HpackDecoder();
        Assert.Equal([(":method", "GET")], Decode(indexed, "82"));
        Assert.Equal(0, indexed.DynamicTableSize);
    }

    [Fact]
    public void C3_RequestsWithoutHuffman()
    {
        var decoder = new HpackDecoder();

        Assert.Equal(Request1, Decode(decoder, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"));
        Assert.Equal(57, decoder.DynamicTableSize);
        Assert.Equal(Request2, Decode(decoder, "8286 84be 5808 6e6f 2d63 6163 6865"));
        Assert.Equal(110, decoder.DynamicTableSize);
        Assert.Equal(Request3, Decode(decoder, "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"));
        Assert.Equal(164, decoder.DynamicTableSize);
        Assert.Equal([("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")], decoder.DynamicTable);
    }

    [Fact]
    public void C4_RequestsWithHuffman()
    {
        var decoder = new HpackDecoder();

        Assert.Equal(Request1, Decode(decoder, "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"));
        Assert.Equal(Request2, Decode(decoder, "8286 84be 5886 a8eb 1064 9cbf"));
        Assert.Equal(Request3, Decode(decoder, "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"));
        Assert.Equal(164, decoder.DynamicTableSize);
    }

    [Fact]
    public void C5_ResponsesWithoutHuffman_EvictAtA256ByteTable()
    {
        var decoder = new HpackDecoder(maxTableSize: 256);

        Assert.Equal(Response1, Decode(decoder, "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"));
        Assert.Equal(222, decoder.DynamicTableSize);
        Assert.Equal(Response2, Decode(decoder, "4803 3330 37c1 c0bf"));
        Assert.Equal(222, decoder.DynamicTableSize);
        Assert.Equal(Response3, Decode(decoder, "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31"));
        Assert.Equal(215, decoder.DynamicTableSize);
        Assert.Equal(
            [("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"), ("content-encoding", "gzip"), ("date", "Mon, 21 Oct 2013 20:13:22 GMT")],
            decoder.DynamicTable);
    }

    [Fact]
    public void C6_ResponsesWithHuffman_EvictAtA256ByteTable()
    {
        var decoder = new HpackDecoder(maxTableSize: 256);

        Assert.Equal(Response1, Decode(decoder, "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3"));
        Assert.Equal(222, decoder.DynamicTableSize);
        Assert.Equal(Response2, Decode(decoder, "4883 640e ffc1 c0bf"));
        Assert.Equal(Response3, Decode(decoder, "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07"));
        Assert.Equal(215, decoder.DynamicTableSize);
    }

    [Fact]
    public void DynamicTableSizeUpdate_ShrinksAndEvicts_AndIsRefusedAfterAField()
    {
        var decoder = new HpackDecoder();
        Decode(decoder, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
        Assert.Equal(55, decoder.DynamicTableSize);

        Assert.Equal([(":method", "GET")], Decode(decoder, "20 82")); // size update to 0, then an indexed field
        Assert.Equal(0, decoder.DynamicTableSize);
        Assert.Empty(decoder.DynamicTable);

        Assert.Throws<HpackException>(() => Decode(new HpackDecoder(), "82 20"));
        Assert.Throws<HpackException>(() => Decode(new HpackDecoder(maxTableSize: 100), "3f 46")); // 31 + 70 = 101 > 100
    }

    [Theory]
    [InlineData("be")] // index 62 with an empty dynamic table
    [InlineData("80")] // index 0
    [InlineData("4a")] // literal name index 10, value missing
    [InlineData("0085 f2b2 4a87")] // a string longer than the block
    [InlineData("ff ff ff ff ff 0f")] // integer overflow
    [InlineData("0081 ff")] // Huffman string of eight one-bits: padding longer than 7 bits
    public void MalformedBlocks_AreRefused(string hex)
        => Assert.Throws<HpackException>(() => Decode(new HpackDecoder(), hex));

    [Fact]
    public void HuffmanTable_IsTheRfcTable()
    {
        Assert.Equal(0x1ff8u, HpackHuffman.CodeOf(0));
        Assert.Equal(0x7fffd8u, HpackHuffman.CodeOf(1));
        Assert.Equal(0x14u, HpackHuffman.CodeOf(' '));
        Assert.Equal(0x0u, HpackHuffman.CodeOf('0'));
        Assert.Equal(0x7bu, HpackHuffman.CodeOf('z'));
        Assert.Equal(0x3ffffeeu, HpackHuffman.CodeOf(255));
        Assert.Equal(0x3fffffffu, HpackHuffman.CodeOf(HpackHuffman.Eos));

        // A complete prefix code: the lengths fill the code space exactly (Kraft sum 1).
        var kraft = 0.0;
        foreach (var length in HpackHuffman.CodeLengths)
        {
            kraft += Math.Pow(2, -length);
        }

        Assert.Equal(1.0, kraft, 12);
    }

    [Fact]
    public void Huffman_DecodesEveryByteValue()
    {
        // Encode all 256 byte values with the table, then decode them back.
        var bits = new List<bool>();
        for (var symbol = 0; symbol < 256; symbol++)
        {
            var code = HpackHuffman.CodeOf(symbol);
            for (var i = HpackHuffman.CodeLengths[symbol] - 1; i >= 0; i--)
            {
                bits.Add(((code >> i) & 1) == 1);
            }
        }

        while (bits.Count % 8 != 0)
        {
            bits.Add(true); // EOS prefix padding
        }

        var encoded = new byte[bits.Count / 8];
        for (var i = 0; i < bits.Count; i++)
        {
            if (bits[i])
            {
                encoded[i / 8] |= (byte)(0x80 >> (i % 8));
            }
        }

        var decoded = new byte[HpackHuffman.MaxDecodedLength(encoded.Length)];
        var n = HpackHuffman.Decode(encoded, decoded);
        Assert.Equal(Enumerable.Range(0, 256).Select(i => (byte)i), decoded[..n]);
    }

    private static List<(string, string)> Decode(HpackDecoder decoder, string hex)
    {
        var headers = new List<(string Name, string Value)>();
        decoder.Decode(Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal)), headers);
        return headers.Select(h => (h.Name, h.Value)).ToList();
    }
}
