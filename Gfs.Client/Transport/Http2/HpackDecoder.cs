using System.Text;

namespace Gfs.Client.Transport.Http2;

/// <summary>
/// Decodes HPACK header blocks (RFC 7541): the static table, a dynamic table with size updates and
/// eviction, literals with and without indexing, and Huffman-coded strings. One decoder per
/// connection; header blocks must be decoded in the order they arrive, whatever their stream.
/// </summary>
internal sealed class HpackDecoder
{
    private readonly List<(string Name, string Value)> dynamic = []; // newest first
    private readonly int maxHeaderListBytes;
    private int maxAllowedTableSize;
    private int tableSize;
    private int tableCapacity;

    /// <param name="maxTableSize">The largest dynamic table the peer may use (what SETTINGS_HEADER_TABLE_SIZE allowed; 4096 by default).</param>
    /// <param name="maxHeaderListBytes">Largest decoded header list accepted (names, values, 32 bytes each).</param>
    public HpackDecoder(int maxTableSize = 4096, int maxHeaderListBytes = 1024 * 1024)
    {
        maxAllowedTableSize = maxTableSize;
        tableCapacity = maxTableSize;
        this.maxHeaderListBytes = maxHeaderListBytes;
    }

    /// <summary>Bytes the dynamic table holds (RFC 7541 §4.1: name + value + 32 per entry).</summary>
    public int DynamicTableSize => tableSize;

    /// <summary>Entries of the dynamic table, newest first.</summary>
    public IReadOnlyList<(string Name, string Value)> DynamicTable => dynamic;

    /// <summary>Decodes one complete header block, appending the fields to <paramref name="headers"/>.</summary>
    /// <exception cref="HpackException">The block is malformed (a COMPRESSION_ERROR).</exception>
    public void Decode(ReadOnlySpan<byte> block, List<(string Name, string Value)> headers)
    {
        var position = 0;
        var listBytes = 0;
        var fieldSeen = false;
        while (position < block.Length)
        {
            var first = block[position];
            string name;
            string value;
            if ((first & 0x80) != 0)
            {
                // Indexed header field (§6.1).
                var index = ReadInteger(block, ref position, 7);
                (name, value) = Lookup(index);
            }
            else if ((first & 0xc0) == 0x40)
            {
                // Literal with incremental indexing (§6.2.1).
                var index = ReadInteger(block, ref position, 6);
                name = index == 0 ? ReadString(block, ref position) : Lookup(index).Name;
                value = ReadString(block, ref position);
                Insert(name, value);
            }
            else if ((first & 0xe0) == 0x20)
            {
                // Dynamic table size update (§6.3): only before the first field of a block.
                if (fieldSeen)
                {
                    throw new HpackException("a dynamic table size update follows a header field");
                }

                var size = ReadInteger(block, ref position, 5);
                if (size > maxAllowedTableSize)
                {
                    throw new HpackException($"dynamic table size update to {size} exceeds the allowed {maxAllowedTableSize}");
                }

                tableCapacity = size;
                Evict(0);
                continue;
            }
            else
            {
                // Literal without indexing (0000xxxx) or never indexed (0001xxxx) (§6.2.2, §6.2.3).
                var index = ReadInteger(block, ref position, 4);
                name = index == 0 ? ReadString(block, ref position) : Lookup(index).Name;
                value = ReadString(block, ref position);
            }

            fieldSeen = true;
            listBytes += name.Length + value.Length + 32;
            if (listBytes > maxHeaderListBytes)
            {
                throw new HpackException($"the header list exceeds {maxHeaderListBytes} bytes");
            }

            headers.Add((name, value));
        }
    }

    /// <summary>Lowers (or restores) the table size the peer may use; takes effect for later blocks.</summary>
    public void SetMaxAllowedTableSize(int size) => maxAllowedTableSize = size;

    internal static int ReadInteger(ReadOnlySpan<byte> source, ref int position, int prefixBits)
    {
        var mask = (1 << prefixBits) - 1;
        var value = source[position++] & mask;
        if (value < mask)
        {
            return value;
        }

        var shift = 0;
        while (true)
        {
            if (position >= source.Length)
            {
                throw new HpackException("the block ends inside an integer");
            }

            var b = source[position++];
            if (shift > 28)
            {
                throw new HpackException("an integer is too large");
            }

            var add = (long)(b & 0x7f) << shift;
            if (value + add > int.MaxValue)
            {
                throw new HpackException("an integer is too large");
            }

            value += (int)add;
            shift += 7;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }
    }

    private string ReadString(ReadOnlySpan<byte> source, ref int position)
    {
        if (position >= source.Length)
        {
            throw new HpackException("the block ends before a string");
        }

        var huffman = (source[position] & 0x80) != 0;
        var length = ReadInteger(source, ref position, 7);
        if (length > source.Length - position)
        {
            throw new HpackException("a string is longer than the block");
        }

        var raw = source.Slice(position, length);
        position += length;
        if (!huffman)
        {
            return Encoding.Latin1.GetString(raw);
        }

        var max = HpackHuffman.MaxDecodedLength(length);
        var buffer = max <= 512 ? stackalloc byte[512] : new byte[max];
        var written = HpackHuffman.Decode(raw, buffer);
        if (written < 0)
        {
            throw new HpackException("a Huffman-coded string is invalid");
        }

        return Encoding.Latin1.GetString(buffer[..written]);
    }

    private (string Name, string Value) Lookup(int index)
    {
        if (index == 0)
        {
            throw new HpackException("index 0 is not a header field");
        }

        if (index <= HpackStaticTable.Count)
        {
            return HpackStaticTable.Get(index);
        }

        var dynamicIndex = index - HpackStaticTable.Count - 1;
        if (dynamicIndex >= dynamic.Count)
        {
            throw new HpackException($"index {index} is beyond the dynamic table");
        }

        return dynamic[dynamicIndex];
    }

    private void Insert(string name, string value)
    {
        var size = name.Length + value.Length + 32;
        if (size > tableCapacity)
        {
            // An entry larger than the table empties it (§4.4).
            dynamic.Clear();
            tableSize = 0;
            return;
        }

        Evict(size);
        dynamic.Insert(0, (name, value));
        tableSize += size;
    }

    private void Evict(int room)
    {
        while (tableSize + room > tableCapacity && dynamic.Count > 0)
        {
            var (name, value) = dynamic[^1];
            dynamic.RemoveAt(dynamic.Count - 1);
            tableSize -= name.Length + value.Length + 32;
        }
    }
}

