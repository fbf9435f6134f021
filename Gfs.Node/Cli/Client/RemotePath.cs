namespace Gfs.Node.Cli.Client;

/// <summary>Paths in the Gfs namespace as the verbs handle them (the master validates them for real).</summary>
internal static class RemotePath
{
    /// <summary>Gfs has no working directory: a path without a leading slash is taken from the root.</summary>
    public static string Normalize(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.StartsWith("gfs://", StringComparison.Ordinal))
        {
            path = path["gfs://".Length..];
        }

        return path.StartsWith('/') ? path : "/" + path;
    }

    public static string Combine(string directory, string name)
        => directory.EndsWith('/') ? directory + name : directory + "/" + name;

    /// <summary>The last component (empty for the root).</summary>
    public static string Name(string path)
    {
        var trimmed = path.TrimEnd('/');
        return trimmed[(trimmed.LastIndexOf('/') + 1)..];
    }

    /// <summary>The path without a trailing slash (the root stays <c>/</c>).</summary>
    public static string TrimTrailingSlash(string path)
    {
        var trimmed = path.TrimEnd('/');
        return trimmed.Length == 0 ? "/" : trimmed;
    }
}
