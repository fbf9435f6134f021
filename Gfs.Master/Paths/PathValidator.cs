using System.Text;
using System.Text.Unicode;
using Gfs.Client.Protocol;

namespace Gfs.Master.Paths;

/// <summary>
/// The path rules of the namespace. A path is UTF-8, absolute, and made of components separated by
/// single slashes: <c>/</c> names the root, <c>/a/b</c> a descendant. Everything else is refused with
/// <see cref="ErrorCode.InvalidArgument"/>: a relative path, an empty component (<c>//</c>, a trailing
/// slash), <c>.</c> and <c>..</c>, NUL and control characters (C0, DEL, C1), a component over
/// <see cref="MaxComponentBytes"/> bytes, a path over <see cref="MaxPathBytes"/> bytes, invalid UTF-8.
/// </summary>
public static class PathValidator
{
    /// <summary>Longest component, in UTF-8 bytes.</summary>
    public const int MaxComponentBytes = 255;

    /// <summary>Longest path, in UTF-8 bytes.</summary>
    public const int MaxPathBytes = 4096;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Checks <paramref name="path"/>; returns <see cref="ErrorCode.Ok"/> or InvalidArgument with a reason.</summary>
    public static ErrorCode Validate(ReadOnlySpan<byte> path, out string? reason)
    {
        reason = Check(path);
        return reason is null ? ErrorCode.Ok : ErrorCode.InvalidArgument;
    }

    /// <summary>True when <paramref name="path"/> satisfies every rule.</summary>
    public static bool IsValid(ReadOnlySpan<byte> path) => Check(path) is null;

    /// <summary>
    /// Encodes <paramref name="path"/> as UTF-8 and validates it. A string with a lone surrogate has no
    /// UTF-8 form and is refused like invalid UTF-8.
    /// </summary>
    public static ErrorCode TryEncode(string path, out byte[] utf8, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            utf8 = StrictUtf8.GetBytes(path);
        }
        catch (EncoderFallbackException)
        {
            utf8 = [];
            reason = "path is not valid Unicode";
            return ErrorCode.InvalidArgument;
        }

        return Validate(utf8, out reason);
    }

    /// <summary>Encodes <paramref name="path"/> as UTF-8, throwing <see cref="ArgumentException"/> if it is not a valid path.</summary>
    public static byte[] Encode(string path)
        => TryEncode(path, out var utf8, out var reason) is ErrorCode.Ok
            ? utf8
            : throw new ArgumentException(reason, nameof(path));

    private static string? Check(ReadOnlySpan<byte> path)
    {
        if (path.IsEmpty)
        {
            return "path is empty";
        }

        if (path.Length > MaxPathBytes)
        {
            return $"path is longer than {MaxPathBytes} bytes";
        }

        if (path[0] != (byte)'/')
        {
            return "path is not absolute";
        }

        if (!Utf8.IsValid(path))
        {
            return "path is not valid UTF-8";
        }

        if (path.Length == 1)
        {
            return null;
        }

        var rest = path[1..];
        while (true)
        {
            var slash = rest.IndexOf((byte)'/');
            var component = slash < 0 ? rest : rest[..slash];
            if (CheckComponent(component) is { } reason)
            {
                return reason;
            }

            if (slash < 0)
            {
                return null;
            }

            rest = rest[(slash + 1)..];
        }
    }

    /// <summary>Checks one component (no slashes); null when it is valid.</summary>
    internal static string? CheckComponent(ReadOnlySpan<byte> component)
    {
        if (component.IsEmpty)
        {
            return "path has an empty component";
        }

        if (component.Length > MaxComponentBytes)
        {
            return $"path component is longer than {MaxComponentBytes} bytes";
        }

        if (component is [(byte)'.'] or [(byte)'.', (byte)'.'])
        {
            return "path components '.' and '..' are not allowed";
        }

        for (var i = 0; i < component.Length; i++)
        {
            var b = component[i];
            if (b < 0x20 || b == 0x7F)
            {
                return "path contains a control character";
            }

            // C1 controls U+0080..U+009F are encoded as C2 80..C2 9F.
            if (b == 0xC2 && i + 1 < component.Length && component[i + 1] is >= 0x80 and <= 0x9F)
            {
                return "path contains a control character";
            }
        }

        return null;
    }
}
