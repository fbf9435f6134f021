namespace Gfs.Node.Cli.Bench;

/// <summary>One figure of <c>gfs bench --json</c>.</summary>
internal sealed record BenchResultJson(string Name, string Unit, double Value);

/// <summary>The whole output of <c>gfs bench --json</c>: exactly <c>{"results":[{"name":…,"unit":…,"value":…},…]}</c>.</summary>
internal sealed record BenchJson(IReadOnlyList<BenchResultJson> Results);
