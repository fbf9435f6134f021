using Xunit;

namespace Gfs.Testing;

/// <summary>
/// What the fault-injection tests need from the machine (root, strace). Where a tool is missing a
/// test is skipped on a developer's machine but fails under CI: <c>.ci/run</c> sets <c>GFS_CI=1</c>
/// and installs the tools, so a fault test that does not run there is a broken CI setup, not a pass.
/// </summary>
public static class FaultTools
{
    /// <summary>The environment variable <c>.ci/run</c> sets to 1.</summary>
    public const string CiVariable = "GFS_CI";

    /// <summary>True when running under <c>.ci/run</c>.</summary>
    public static bool UnderCi => Environment.GetEnvironmentVariable(CiVariable) == "1";

    /// <summary>Where strace is expected (Debian's package).</summary>
    public const string StracePath = "/usr/bin/strace";

    /// <summary>True when strace is installed.</summary>
    public static bool HasStrace => File.Exists(StracePath);

    /// <summary>
    /// Returns when <paramref name="available"/>; otherwise fails the test under CI and skips it
    /// elsewhere, saying what is missing (<paramref name="what"/>, with how to get it).
    /// </summary>
    public static void Require(bool available, string what)
    {
        if (available)
        {
            return;
        }

        if (UnderCi)
        {
            Assert.Fail($"{what}; under CI ({CiVariable}=1) this test must run: .ci/run installs the tools and must run as root");
        }

        Assert.Skip(what);
    }
}
