using System.CommandLine;

namespace Gfs.Node.Cli.Client;

/// <summary>The client verbs, in the order <c>gfs --help</c> lists them.</summary>
internal static class ClientCommands
{
    public static IEnumerable<Command> Create(CliHost host) =>
    [
        TransferCommands.Put(host),
        TransferCommands.Get(host),
        TransferCommands.Cat(host),
        NamespaceCommands.Ls(host),
        NamespaceCommands.Mkdir(host),
        NamespaceCommands.Rm(host),
        NamespaceCommands.Mv(host),
        NamespaceCommands.Stat(host),
        NamespaceCommands.Du(host),
        DfCommand.Create(host),
        TransferCommands.Append(host),
        NamespaceCommands.Setrep(host),
    ];
}
