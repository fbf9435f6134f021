using MessagePack;

namespace Gfs.Client.Protocol.Master;

/// <summary>One page of a directory listing, in name order.</summary>
[MessagePackObject]
public sealed class ListReply
{
    /// <summary>The entries of this page.</summary>
    [Key(0)]
    public List<EntryAttributes> Entries { get; set; } = [];

    /// <summary>True when more entries follow; ask again with StartAfter set to the last name.</summary>
    [Key(1)]
    public bool More { get; set; }
}
