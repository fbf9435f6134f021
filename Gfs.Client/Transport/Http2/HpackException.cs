namespace Gfs.Client.Transport.Http2;

/// <summary>A malformed HPACK header block (an HTTP/2 COMPRESSION_ERROR).</summary>
internal sealed class HpackException(string message) : Exception(message);
