using Gfs.Client.Protocol;
using Gfs.Master.Commands;
using Gfs.Master.Paths;
using Gfs.Master.State;
using Gfs.Master.Tests.State;

namespace Gfs.Master.Tests.Paths;

public class PathValidatorTests
{
    public static TheoryData<string> ValidPaths =>
    [
        "/", "/a", "/a/b", "/a.b", "/...", "/.hidden", "/..x", "/héllo/wörld", "/日本語", "/a b", "/" + new string('x', 255),
        "/emoji😀",
    ];

    public static TheoryData<string, string> InvalidPaths => new()
    {
        { "", "empty" },
        { "a/b", "relative" },
        { "//", "empty component" },
        { "/a//b", "empty component" },
        { "/a/", "trailing slash" },
        { "/.", "dot" },
        { "/a/./b", "dot" },
        { "/..", "dotdot" },
        { "/a/../b", "dotdot" },
        { "/a\0b", "NUL" },
        { "/a\nb", "newline" },
        { "/a\tb", "tab" },
        { "/a\u007Fb", "DEL" },
        { "/a\u0085b", "C1 control" },
        { "/" + new string('x', 256), "component over 255 bytes" },
        { "/" + new string('é', 128), "component over 255 bytes in UTF-8 (256)" },
        { "/" + string.Join('/', Enumerable.Repeat(new string('y', 200), 21)), "path over 4096 bytes" },
    };

    [Theory]
    [MemberData(nameof(ValidPaths))]
    public void Valid(string path)
    {
        Assert.Equal(ErrorCode.Ok, PathValidator.TryEncode(path, out var utf8, out var reason));
        Assert.Null(reason);
        Assert.True(PathValidator.IsValid(utf8));
    }

    [Theory]
    [MemberData(nameof(InvalidPaths))]
    public void Invalid(string path, string why)
    {
        Assert.Equal(ErrorCode.InvalidArgument, PathValidator.TryEncode(path, out _, out var reason));
        Assert.False(string.IsNullOrEmpty(reason), why);
    }

    [Fact]
    public void PathOfExactly4096Bytes_IsValid()
    {
        var path = "/" + string.Join('/', Enumerable.Repeat(new string('z', 255), 16)); // 16 * 256 = 4096
        Assert.Equal(4096, path.Length);
        Assert.True(PathValidator.IsValid(System.Text.Encoding.UTF8.GetBytes(path)));
        Assert.False(PathValidator.IsValid(System.Text.Encoding.UTF8.GetBytes(path + "z")));
    }

    public static TheoryData<byte[]> InvalidUtf8 => new(
        new byte[] { (byte)'/', 0xFF },
        new byte[] { (byte)'/', (byte)'a', 0xC3 },            // truncated two-byte sequence
        new byte[] { (byte)'/', 0xC0, 0xAF },                 // overlong '/'
        new byte[] { (byte)'/', 0xED, 0xA0, 0x80 },           // UTF-16 surrogate encoded in UTF-8
        new byte[] { (byte)'/', 0xF4, 0x90, 0x80, 0x80 },     // above U+10FFFF
        new byte[] { (byte)'/', 0x80 });                      // lone continuation byte

    [Theory]
    [MemberData(nameof(InvalidUtf8))]
    public void InvalidUtf8_IsRefused(byte[] raw)
    {
        Assert.Equal(ErrorCode.InvalidArgument, PathValidator.Validate(raw, out _));
    }

    [Theory]
    [MemberData(nameof(InvalidUtf8))]
    public void InvalidUtf8_InACommand_CreatesNothing(byte[] raw)
    {
        var state = new MasterState();
        var hash = state.ComputeStateHash();
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(new CreateFileOp { Path = raw }).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(new MakeDirectoryOp { Path = raw, Parents = true }).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Stat(raw, out _));
        Assert.Equal(ErrorCode.Ok, state.List("/", out var entries));
        Assert.Empty(entries);
        Assert.NotEqual(0UL, hash);
    }

    [Fact]
    public void LoneSurrogateString_IsRefused()
    {
        Assert.Equal(ErrorCode.InvalidArgument, PathValidator.TryEncode("/a\uD800b", out _, out _));
    }

    [Theory]
    [MemberData(nameof(InvalidPaths))]
    public void InvalidPath_InEveryOperation_IsInvalidArgument_AndCreatesNothing(string path, string why)
    {
        _ = why;
        var state = new MasterState();
        state.Run(Ops.Create("/f"));
        var before = state.InodeCount;
        var raw = System.Text.Encoding.UTF8.GetBytes(path);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(new MakeDirectoryOp { Path = raw, Parents = true }).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(new CreateFileOp { Path = raw, Goal = 3 }).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(new RenameOp { From = Ops.P("/f"), To = raw }).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(new RenameOp { From = raw, To = Ops.P("/g") }).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(new DeleteOp { Path = raw }).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(new SetReplicationOp { Path = raw, Goal = 2 }).Code);
        Assert.Equal(ErrorCode.InvalidArgument, state.Run(new AllocateChunkOp { Path = raw, Handle = 5 }).Code);
        Assert.Equal(before, state.InodeCount);
        Assert.Equal(InodeKind.File, state.StatOk("/f").Kind);
    }
}
