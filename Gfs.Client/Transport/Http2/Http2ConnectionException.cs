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
    /// REFUSED_STREAM, a connection that could not be opened or a send that failed), or presumed not
    /// to have (a pooled connection that closed before the server sent anything on the stream). The
    /// data client retries such a request once, on a new connection, only when it can be replayed.
    /// </summary>
    public bool NotProcessed { get; }
}
