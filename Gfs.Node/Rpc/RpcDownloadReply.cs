using System.IO.Pipelines;

namespace Gfs.Node.Rpc;

/// <summary>
/// What a download handler returns: the reply header, the exact number of bytes that follow, and
/// a callback that writes them. If the callback throws a <see cref="Gfs.Client.Protocol.GfsException"/>
/// after data has started, the reply ends short and the error travels in the HTTP/2 trailers.
/// </summary>
/// <typeparam name="THeader">Type of the reply header.</typeparam>
/// <param name="Header">The reply header.</param>
/// <param name="Length">Exact number of bytes <paramref name="WriteBody"/> writes.</param>
/// <param name="WriteBody">Writes the bytes into the response; flushing is up to it (a flush per block keeps memory bounded).</param>
public sealed record RpcDownloadReply<THeader>(THeader Header, long Length, Func<PipeWriter, CancellationToken, ValueTask> WriteBody);
