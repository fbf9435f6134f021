namespace Gfs.Benchmarks;

/// <summary>
/// One benchmark suite of the console harness: <c>dotnet run -c Release --project benchmarks/Gfs.Benchmarks -- NAME [args]</c>.
/// Suites are found by reflection, so adding one touches no shared file. Each prints medians of several runs.
/// </summary>
public interface IBenchmarkSuite
{
    /// <summary>Name used on the command line, lower case (for example <c>transport</c>).</summary>
    string Name { get; }

    /// <summary>One line shown by <c>--list</c>.</summary>
    string Description { get; }

    /// <summary>Runs the suite and returns the process exit code.</summary>
    Task<int> RunAsync(string[] args, CancellationToken cancellationToken);
}
