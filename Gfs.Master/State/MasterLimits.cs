namespace Gfs.Master.State;

/// <summary>Limits and defaults of the master state.</summary>
public static class MasterLimits
{
    public const int DefaultGoal = 3;
    public const int MaxGoal = 16;

    /// <summary>Default chunk size: 64 MiB.</summary>
    public const int DefaultChunkSize = 64 << 20;
    public const int MinChunkSize = 64 << 10;
    public const int MaxChunkSize = 1 << 30;

    /// <summary>Results kept per client for exactly-once; a client keeps at most this many requests in flight.</summary>
    public const int ClientWindow = 32;

    /// <summary>Clients remembered; beyond it the least recently seen client is forgotten.</summary>
    public const int MaxClients = 65536;
}
