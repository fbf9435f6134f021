namespace Gfs.Client.Protocol.Master;

/// <summary>What a namespace entry is.</summary>
public enum EntryKind
{
    /// <summary>A directory.</summary>
    Directory = 1,

    /// <summary>A file.</summary>
    File = 2,
}
