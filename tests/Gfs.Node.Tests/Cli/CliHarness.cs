using System.CommandLine;
using Gfs.Node.Cli;
using Gfs.Node.Cli.Client;

namespace Gfs.Node.Tests.Cli;

/// <summary>Runs the client verbs in-process against a <see cref="FakeFileSystem"/>, with in-memory console streams.</summary>
internal sealed class CliHarness
{
    public const string Masters = "http://127.0.0.1:7100,http://127.0.0.1:7101";

    public FakeFileSystem Fs { get; } = new();

    public Dictionary<string, string> Environment { get; } = new() { ["GFS_MASTERS"] = Masters };

    public string Home { get; set; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "gfs-cli-tests-no-home");

    public byte[] Stdin { get; set; } = [];

    public MemoryStream Stdout { get; } = new();

    public StringWriter Out { get; } = new();

    public StringWriter Error { get; } = new();

    public bool ErrorIsTerminal { get; set; }

    public ManualTime Time { get; } = new();

    public List<IReadOnlyList<Uri>> Connected { get; } = [];

    public string StdoutText => System.Text.Encoding.UTF8.GetString(Stdout.ToArray());

    public CliHost Host => new()
    {
        Out = Out,
        Error = Error,
        OpenStandardInput = () => new MemoryStream(Stdin, writable: false),
        OpenStandardOutput = () => Stdout,
        ErrorIsTerminal = ErrorIsTerminal,
        GetEnvironmentVariable = name => Environment.GetValueOrDefault(name),
        HomeDirectory = Home,
        Connect = masters =>
        {
            Connected.Add(masters);
            return Fs;
        },
        Time = Time,
    };

    public async Task<int> RunAsync(params string[] args)
    {
        var host = Host;
        var root = new RootCommand("test");
        foreach (var command in ClientCommands.Create(host))
        {
            root.Add(command);
        }

        return await CliInvocation.InvokeAsync(root, args, new InvocationConfiguration { Output = Out, Error = Error, ProcessTerminationTimeout = null });
    }
}
