namespace Gfs.Testing;

/// <summary>Polls a condition instead of sleeping a fixed time.</summary>
public static class Retry
{
    public static async Task Until(string what, Func<Task<bool>> condition, TimeSpan timeout, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + timeout;
        Exception? last = null;
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (Exception e)
            {
                last = e;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds:0.#} s waiting until {what}" + (last is null ? "" : $"; last error: {last.Message}"), last);
            }

            await Task.Delay(interval ?? TimeSpan.FromMilliseconds(50));
        }
    }

    public static Task Until(string what, Func<bool> condition, TimeSpan timeout, TimeSpan? interval = null)
        => Until(what, () => Task.FromResult(condition()), timeout, interval);
}
