namespace Gfs.Client.Transport.Http2;

/// <summary>
/// A connection-level failure of the HTTP/2 data client: the peer could not be reached, closed or
/// reset the connection, refused the stream, or broke the protocol. It is an <see cref="IOException"/>
/// so that <see cref="RpcClient"/> maps it to <c>Unavailable</c> like any other transport failure.
/// </summary>
internal sealed class Http2ConnectionException : IOException
{
    public Http2ConnectionException(string message, bool notProcessed = false, Exception? inner = null)
        : base(message, inner)
    {
        NotProcessed = notProcessed;
    }

    /// <summary>
    /// True when the server is known not to have processed the request (GOAWAY below its stream id,
    /// REFUSED_STREAM, or a request that could not be sent at all): retrying it elsewhere is safe.
    /// </summary>
    public bool NotProcessed { get; }
}
