namespace Gfs.Node.Tests.Chunkserver;

/// <summary>The system clock plus an offset a test can move forward (leases and TTLs expire at once).</summary>
internal sealed class ShiftableTime : TimeProvider
{
    private long offsetTicks;

    public override long TimestampFrequency => System.TimestampFrequency;

    public override long GetTimestamp() => System.GetTimestamp() + (Interlocked.Read(ref offsetTicks) * System.TimestampFrequency / TimeSpan.TicksPerSecond);

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref offsetTicks));

    public void Advance(TimeSpan by) => Interlocked.Add(ref offsetTicks, by.Ticks);
}
