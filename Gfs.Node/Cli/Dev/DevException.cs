namespace Gfs.Node.Cli.Dev;

/// <summary>A local cluster could not start or stay up; the message says why and what to do.</summary>
internal sealed class DevException(string message) : Exception(message);
