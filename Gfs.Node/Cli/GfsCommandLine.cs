using System.CommandLine;
using Gfs.Node.Cli.Bench;
using Gfs.Node.Cli.Client;
using Gfs.Node.Cli.Dev;

namespace Gfs.Node.Cli;

/// <summary>
/// The <c>gfs</c> command tree. Each role or verb group adds its commands here when it exists;
/// nothing is listed before it works.
/// </summary>
internal static class GfsCommandLine
{
    public static RootCommand Build()
    {
        var root = new RootCommand("Gfs: a distributed file system after the Google File System, with a Raft-replicated master.")
        {
            MasterCommand.Create(),
            ChunkserverCommand.Create(),
        };
        ClientCommands.Create(CliHost.System).ToList().ForEach(root.Add);
        root.Add(DevCommand.Create());
        root.Add(BenchCommand.Create(CliHost.System));
        return root;
    }
}
