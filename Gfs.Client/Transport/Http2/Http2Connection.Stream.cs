namespace Gfs.Client.Transport.Http2;

/// <summary>The state of the one stream the connection carries at a time.</summary>
internal sealed partial class Http2Connection
{
    /// <summary>Largest response body buffered while the request is still being sent.</summary>
    private const int MaxBufferedBody = 16 * 1024 * 1024;

    private int activeStream;
    private bool localEnded;
    private bool remoteEnded;
    private bool sendAbandoned;
    private bool streamHeard;
    private Http2ConnectionException? streamFailure;
    private ResponseHead? response;
    private List<(string Name, string Value)>? trailers;
    private long streamSendWindow;
    private long streamReceiveWindow;
    private int streamUnacked;
    private long bodyReceived;

    // The DATA frame being read.
    private int dataRemaining;
    private int padRemaining;
    private int frameFlowLength;
    private bool frameEndsStream;

    // Response bytes received before anyone asked for them (an early reply, or what the envelope parser gave back).
    private byte[]? buffered;
    private int bufferedOffset;
    private int bufferedCount;

    /// <summary>The trailers of the current stream, once received.</summary>
    public IReadOnlyList<(string Name, string Value)>? Trailers => trailers;

    /// <summary>The server answered the whole stream and asked us to stop sending (RST_STREAM NO_ERROR): further request data is dropped.</summary>
    public bool SendAbandoned => sendAbandoned;

    /// <summary>END_STREAM was sent.</summary>
    public bool LocalEnded => localEnded;

    /// <summary>The response ended (END_STREAM received).</summary>
    public bool RemoteEnded => remoteEnded && dataRemaining == 0 && bufferedCount == 0;

    /// <summary>The server sent something on the current stream (it saw the request).</summary>
    public bool StreamHeard => streamHeard;

    /// <summary>Opens the next stream. Only one stream is open at a time.</summary>
    public void BeginStream()
    {
        if (IsBroken || activeStream != 0)
        {
            throw new InvalidOperationException("the connection cannot open a stream");
        }

        if (peerMaxConcurrentStreams == 0)
        {
            IsBroken = true;
            throw new Http2ConnectionException($"{Endpoint} allows no streams (SETTINGS_MAX_CONCURRENT_STREAMS 0)", notProcessed: true);
        }

        if (lastStreamId >= int.MaxValue - 2)
        {
            IsBroken = true;
            throw new Http2ConnectionException($"the connection to {Endpoint} ran out of stream ids", notProcessed: true);
        }

        lastStreamId = lastStreamId == 0 ? 1 : lastStreamId + 2;
        activeStream = lastStreamId;
        localEnded = false;
        remoteEnded = false;
        sendAbandoned = false;
        streamHeard = false;
        streamFailure = null;
        response = null;
        trailers = null;
        streamSendWindow = peerInitialWindow;
        streamReceiveWindow = settings.StreamReceiveWindow;
        streamUnacked = 0;
        bodyReceived = 0;
        bufferedOffset = 0;
        bufferedCount = 0;
    }

    /// <summary>
    /// Closes the stream from our side of the bookkeeping. Returns true when it ended cleanly
    /// (both directions ended, everything read, no reset) and the connection may carry another.
    /// </summary>
    public bool EndStream()
    {
        var clean = activeStream != 0 && localEnded && remoteEnded && streamFailure is null && !sendAbandoned
            && dataRemaining == 0 && padRemaining == 0 && bufferedCount == 0;
        activeStream = 0;
        if (!clean || goAwayLastStreamId is not null)
        {
            IsBroken = true;
        }

        return !IsBroken;
    }

    /// <summary>Waits for the response's HEADERS (skipping 1xx responses).</summary>
    public async ValueTask<ResponseHead> ReadResponseHeadAsync(CancellationToken cancellationToken)
    {
        while (response is null)
        {
            if (streamFailure is not null)
            {
                throw streamFailure;
            }

            await ProcessFrameAsync(cancellationToken).ConfigureAwait(false);
        }

        return response;
    }

    /// <summary>
    /// Reads response body bytes into <paramref name="destination"/>: from what is buffered, else
    /// straight from the connection (for h2c, one receive from the socket into the destination).
    /// Returns 0 at the end of the stream.
    /// </summary>
    public async ValueTask<int> ReadDataAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (destination.IsEmpty)
        {
            return 0;
        }

        while (true)
        {
            if (bufferedCount > 0)
            {
                var n = Math.Min(bufferedCount, destination.Length);
                buffered.AsSpan(bufferedOffset, n).CopyTo(destination.Span);
                bufferedOffset += n;
                bufferedCount -= n;
                return n;
            }

            if (dataRemaining > 0)
            {
                var want = Math.Min(destination.Length, dataRemaining);
                var n = await ReceiveSomeAsync(destination[..want], cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    throw ClosedByPeer();
                }

                dataRemaining -= n;
                if (dataRemaining == 0)
                {
                    await FinishDataFrameAsync(cancellationToken).ConfigureAwait(false);
                }

                return n;
            }

            if (streamFailure is not null)
            {
                throw streamFailure;
            }

            if (remoteEnded)
            {
                return 0;
            }

            await ProcessFrameAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Puts bytes read too far back in front of the rest of the body.</summary>
    public void Unread(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return;
        }

        var merged = new byte[bytes.Length + bufferedCount];
        bytes.CopyTo(merged);
        buffered.AsSpan(bufferedOffset, bufferedCount).CopyTo(merged.AsSpan(bytes.Length));
        buffered = merged;
        bufferedOffset = 0;
        bufferedCount = merged.Length;
    }

    /// <summary>Reads the rest of the current DATA frame into the buffer (used while sending, when the reply arrives early).</summary>
    private async ValueTask BufferDataFrameAsync(CancellationToken cancellationToken)
    {
        if (bufferedCount + (long)dataRemaining > MaxBufferedBody)
        {
            throw ProtocolError($"more than {MaxBufferedBody} bytes of response arrived before the request was sent");
        }

        if (buffered is null || bufferedOffset + bufferedCount + dataRemaining > buffered.Length)
        {
            var grown = new byte[Math.Max(bufferedCount + dataRemaining, (buffered?.Length ?? 0) * 2)];
            buffered.AsSpan(bufferedOffset, bufferedCount).CopyTo(grown);
            buffered = grown;
            bufferedOffset = 0;
        }

        while (dataRemaining > 0)
        {
            var n = await ReceiveSomeAsync(buffered.AsMemory(bufferedOffset + bufferedCount, dataRemaining), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw ClosedByPeer();
            }

            bufferedCount += n;
            dataRemaining -= n;
        }

        await FinishDataFrameAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>After a DATA frame's payload: skips its padding, credits the windows, notes END_STREAM.</summary>
    private async ValueTask FinishDataFrameAsync(CancellationToken cancellationToken)
    {
        if (padRemaining > 0)
        {
            await DiscardAsync(padRemaining, cancellationToken).ConfigureAwait(false);
            padRemaining = 0;
        }

        connectionUnacked += frameFlowLength;
        streamUnacked += frameFlowLength;
        frameFlowLength = 0;
        if (frameEndsStream)
        {
            frameEndsStream = false;
            MarkRemoteEnded();
        }

        await SendWindowUpdatesAsync(cancellationToken).ConfigureAwait(false);
    }

    private void MarkRemoteEnded()
    {
        remoteEnded = true;
        if (response?.ContentLength is { } declared && declared != bodyReceived)
        {
            throw ProtocolError($"the response body has {bodyReceived} bytes, its content-length says {declared}");
        }
    }

    private Http2ConnectionException ClosedByPeer()
    {
        IsBroken = true;
        var goAway = goAwayLastStreamId is null ? "" : $" after GOAWAY ({goAwayCode})";
        var notProcessed = activeStream != 0 && (activeStream > goAwayLastStreamId || (Reused && !streamHeard));
        return new Http2ConnectionException($"{Endpoint} closed the connection{goAway}", notProcessed);
    }
}
