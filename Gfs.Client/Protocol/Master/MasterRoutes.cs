namespace Gfs.Client.Protocol.Master;

/// <summary>Routes of the master's client RPCs, below <c>/rpc/</c>.</summary>
public static class MasterRoutes
{
    /// <summary>Creates a directory (optionally with its parents).</summary>
    public const string Mkdir = "master/Mkdir";

    /// <summary>Creates an empty file.</summary>
    public const string CreateFile = "master/CreateFile";

    /// <summary>Moves a file or directory into the trash.</summary>
    public const string Delete = "master/Delete";

    /// <summary>Renames a file or directory atomically.</summary>
    public const string Rename = "master/Rename";

    /// <summary>Changes a file's replication goal.</summary>
    public const string SetReplication = "master/SetReplication";

    /// <summary>Applies many namespace operations in one log entry.</summary>
    public const string Batch = "master/Batch";

    /// <summary>Raises a file's length (a writer's acknowledged end).</summary>
    public const string SetLength = "master/SetLength";

    /// <summary>Returns one entry's attributes.</summary>
    public const string Stat = "master/Stat";

    /// <summary>Lists a directory.</summary>
    public const string List = "master/List";

    /// <summary>Describes this master and the cluster as it sees it; answered by any replica.</summary>
    public const string Status = "master/Status";
}
