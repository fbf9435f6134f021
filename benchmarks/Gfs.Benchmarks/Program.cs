using Gfs.Benchmarks;

var suites = typeof(IBenchmarkSuite).Assembly.GetTypes()
    .Where(t => t is { IsAbstract: false, IsInterface: false } && typeof(IBenchmarkSuite).IsAssignableFrom(t))
    .Select(t => (IBenchmarkSuite)Activator.CreateInstance(t)!)
    .OrderBy(s => s.Name, StringComparer.Ordinal)
    .ToList();

if (args.Length == 0 || args[0] is "--list" or "-h" or "--help")
{
    Console.WriteLine("usage: dotnet run -c Release --project benchmarks/Gfs.Benchmarks -- SUITE [options]");
    foreach (var suite in suites)
    {
        Console.WriteLine($"  {suite.Name,-12} {suite.Description}");
    }

    return args.Length == 0 ? 2 : 0;
}

var chosen = suites.FirstOrDefault(s => s.Name == args[0]);
if (chosen is null)
{
    Console.Error.WriteLine($"unknown suite '{args[0]}'; --list shows them");
    return 2;
}

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cts.Cancel();
};
return await chosen.RunAsync(args[1..], cts.Token);
