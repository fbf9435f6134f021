using System.Text.Json;
using Gfs.Client;
using Gfs.Client.Protocol;

namespace Gfs.Node.Cli.Client;

/// <summary>
/// Where the verbs find the masters: <c>--masters</c>, else <c>GFS_MASTERS</c>, else the config
/// file (<c>$GFS_CONFIG</c>, or <c>~/.config/gfs/config.json</c>) holding <c>{"masters":["http://…"]}</c>.
/// </summary>
internal static class MastersResolver
{
    public const string MastersVariable = "GFS_MASTERS";
    public const string ConfigVariable = "GFS_CONFIG";

    public static string DefaultConfigPath(string homeDirectory) => Path.Combine(homeDirectory, ".config", "gfs", "config.json");

    /// <summary>The masters, and where they came from (for messages). Throws a <see cref="CliException"/> when none is configured or one is malformed.</summary>
    public static (IReadOnlyList<Uri> Masters, string Source) Resolve(string? flag, Func<string, string?> getEnvironmentVariable, string homeDirectory)
        => TryResolve(flag, getEnvironmentVariable, homeDirectory) ?? throw new CliException(
            ErrorCode.InvalidArgument,
            $"no masters configured: pass --masters http://host:port[,…], set {MastersVariable}, or write {{\"masters\":[\"http://host:port\"]}} to {DefaultConfigPath(homeDirectory)} (or the file ${ConfigVariable} names); `gfs dev` starts a local cluster");

    /// <summary>Like <see cref="Resolve"/>, but null when nothing is configured at all (a malformed setting still throws).</summary>
    public static (IReadOnlyList<Uri> Masters, string Source)? TryResolve(string? flag, Func<string, string?> getEnvironmentVariable, string homeDirectory)
    {
        ArgumentNullException.ThrowIfNull(getEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(flag))
        {
            return (Parse(flag, "--masters"), "--masters");
        }

        var variable = getEnvironmentVariable(MastersVariable);
        if (!string.IsNullOrWhiteSpace(variable))
        {
            return (Parse(variable, MastersVariable), MastersVariable);
        }

        var explicitConfig = getEnvironmentVariable(ConfigVariable);
        var configPath = string.IsNullOrWhiteSpace(explicitConfig) ? DefaultConfigPath(homeDirectory) : explicitConfig;
        if (!File.Exists(configPath))
        {
            return string.IsNullOrWhiteSpace(explicitConfig)
                ? null
                : throw new CliException(ErrorCode.NotFound, $"the config file named by {ConfigVariable} does not exist", configPath);
        }

        return (ReadConfig(configPath), configPath);
    }

    private static IReadOnlyList<Uri> Parse(string masters, string source)
    {
        try
        {
            return GfsClientOptions.ParseMasters(masters);
        }
        catch (ArgumentException e)
        {
            throw new CliException(ErrorCode.InvalidArgument, $"{source}: {StripParameter(e.Message)}");
        }
    }

    private static IReadOnlyList<Uri> ReadConfig(string path)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("masters", out var masters)
                || masters.ValueKind != JsonValueKind.Array
                || masters.EnumerateArray().Any(m => m.ValueKind != JsonValueKind.String))
            {
                throw new CliException(ErrorCode.InvalidArgument, "the config file must look like {\"masters\":[\"http://host:port\", …]}", path);
            }

            return Parse(string.Join(',', masters.EnumerateArray().Select(m => m.GetString())), path);
        }
        catch (JsonException e)
        {
            throw new CliException(ErrorCode.InvalidArgument, $"the config file is not valid JSON ({e.Message})", path);
        }
        catch (IOException e)
        {
            throw new CliException(ErrorCode.Internal, $"cannot read the config file: {e.Message}", path);
        }
    }

    private static string StripParameter(string message)
    {
        var index = message.IndexOf(" (Parameter", StringComparison.Ordinal);
        return index < 0 ? message : message[..index];
    }
}
