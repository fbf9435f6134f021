namespace Gfs.Client;

/// <summary>How a new file is created.</summary>
public sealed record GfsCreateOptions
{
    /// <summary>Replication goal. Default 3.</summary>
    public int Replication { get; init; } = 3;

    /// <summary>Chunk size in bytes, a power of two. Default 64 MiB.</summary>
    public int ChunkSize { get; init; } = 64 << 20;

    /// <summary>Replace an existing file (it is deleted first). Default false: AlreadyExists.</summary>
    public bool Overwrite { get; init; }

    /// <summary>Create missing parent directories. Default false.</summary>
    public bool CreateParents { get; init; }
}
