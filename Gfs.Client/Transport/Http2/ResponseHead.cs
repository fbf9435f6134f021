namespace Gfs.Client.Transport.Http2;

/// <summary>The parts of a response's HEADERS the RPC layer reads.</summary>
internal sealed record ResponseHead(int Status, string? ContentType, long? ContentLength);
