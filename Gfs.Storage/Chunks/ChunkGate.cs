namespace Gfs.Storage.Chunks;

/// <summary>
/// Readers share a chunk; an in-place overwrite excludes them while its checksums and bytes change
/// (so no reader pairs new checksums with old bytes). Waiting writers block new readers.
/// </summary>
internal sealed class ChunkGate
{
    private readonly Lock sync = new();
    private int readers;
    private bool writer;
    private TaskCompletionSource? readersDrained;
    private TaskCompletionSource? writerDone;

    public async ValueTask EnterReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (sync)
            {
                if (!writer)
                {
                    readers++;
                    return;
                }

                writerDone ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = writerDone.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void ExitRead()
    {
        lock (sync)
        {
            readers--;
            if (readers == 0 && readersDrained is { } drained)
            {
                readersDrained = null;
                drained.TrySetResult();
            }
        }
    }

    /// <summary>Only one writer at a time: callers hold the chunk's mutation lock.</summary>
    public async ValueTask EnterWriteAsync()
    {
        Task? wait = null;
        lock (sync)
        {
            writer = true;
            if (readers > 0)
            {
                readersDrained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = readersDrained.Task;
            }
        }

        if (wait is not null)
        {
            await wait.ConfigureAwait(false);
        }
    }

    public void ExitWrite()
    {
        lock (sync)
        {
            writer = false;
            if (writerDone is { } done)
            {
                writerDone = null;
                done.TrySetResult();
            }
        }
    }
}
