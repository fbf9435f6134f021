namespace Gfs.Storage.Io;

/// <summary>
/// Named fault injection points for tests: each I/O call site asks whether to fail with an errno
/// (for example <c>EIO</c> on <see cref="ChunkSync"/>, <c>ENOSPC</c> on <see cref="ChunkAllocate"/>).
/// </summary>
internal sealed class Failpoints
{
    public const string ChunkSync = "chunk.fdatasync";
    public const string WalSync = "wal.fdatasync";
    public const string ChunkAllocate = "chunk.fallocate";
    public const string WalAllocate = "wal.fallocate";
    public const string ChunkWrite = "chunk.write";
    public const string ChunkOpenDirect = "chunk.open-direct";
    public const string CrashBeforeInPlaceWrite = "overwrite.crash-before-in-place-write";

    private readonly Dictionary<string, int> armed = new(StringComparer.Ordinal);

    /// <summary>Makes every later call of <paramref name="point"/> fail with <paramref name="errno"/>.</summary>
    public void Arm(string point, int errno)
    {
        lock (armed)
        {
            armed[point] = errno;
        }
    }

    /// <summary>
    /// Lets <paramref name="passes"/> calls of <paramref name="point"/> through, then fails the next
    /// <paramref name="failures"/> (every later one when 0) and disarms itself.
    /// </summary>
    public void Arm(string point, int errno, int passes, int failures = 0)
    {
        lock (armed)
        {
            armed[point] = errno;
            remainingPasses[point] = passes;
            remainingFailures.Remove(point);
            if (failures > 0)
            {
                remainingFailures[point] = failures;
            }
        }
    }

    private readonly Dictionary<string, int> remainingPasses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> remainingFailures = new(StringComparer.Ordinal);

    public void Disarm(string point)
    {
        lock (armed)
        {
            armed.Remove(point);
            remainingPasses.Remove(point);
            remainingFailures.Remove(point);
        }
    }

    private readonly Dictionary<string, ManualResetEventSlim> paused = new(StringComparer.Ordinal);

    /// <summary>Makes calls of <paramref name="point"/> block until <see cref="Resume"/>; returns a signal set when one is blocked.</summary>
    public ManualResetEventSlim Pause(string point)
    {
        var reached = new ManualResetEventSlim();
        lock (armed)
        {
            paused[point] = new ManualResetEventSlim();
            reachedSignals[point] = reached;
        }

        return reached;
    }

    private readonly Dictionary<string, ManualResetEventSlim> reachedSignals = new(StringComparer.Ordinal);

    public void Resume(string point)
    {
        lock (armed)
        {
            if (paused.Remove(point, out var gate))
            {
                gate.Set();
            }

            reachedSignals.Remove(point);
        }
    }

    /// <summary>The errno to inject at <paramref name="point"/>, or 0 (after waiting while the point is paused).</summary>
    public int Check(string point)
    {
        ManualResetEventSlim? gate;
        ManualResetEventSlim? reached;
        lock (armed)
        {
            paused.TryGetValue(point, out gate);
            reachedSignals.TryGetValue(point, out reached);
        }

        if (gate is not null)
        {
            reached?.Set();
            gate.Wait();
        }

        lock (armed)
        {
            if (remainingPasses.TryGetValue(point, out var passes) && passes > 0)
            {
                remainingPasses[point] = passes - 1;
                return 0;
            }

            if (!armed.TryGetValue(point, out var errno))
            {
                return 0;
            }

            if (remainingFailures.TryGetValue(point, out var failures) && --failures == 0)
            {
                armed.Remove(point);
                remainingFailures.Remove(point);
            }
            else if (failures > 0)
            {
                remainingFailures[point] = failures;
            }

            return errno;
        }
    }
}
