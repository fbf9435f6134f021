using System.CommandLine;
using Gfs.Node.Cli;

// Termination (Ctrl+C, SIGTERM) cancels the command's token; commands that own child processes
// (gfs dev, gfs bench) need more than System.CommandLine's default two seconds to stop them.
var parse = GfsCommandLine.Build().Parse(args);
var exitCode = await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) }).ConfigureAwait(false);

// A command line the parser rejects is a usage error: exit code 2, as documented in docs/cli.md.
return parse.Errors.Count > 0 && parse.Action is System.CommandLine.Invocation.ParseErrorAction ? 2 : exitCode;
