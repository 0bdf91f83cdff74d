namespace Hypervisors.Bench;

/// <summary>
/// Warm-up until the JIT has settled. Tiered compilation compiles a hot method again (instrumented, then optimized)
/// on a background thread a while after it gets hot, so one warm-up round leaves that work to fall into the first
/// measured phase; a C reference pays for none of it. Rounds repeat, with a pause for that thread, until a round
/// compiles no new method.
/// </summary>
internal static class JitWarmup
{
    /// <summary>Runs <paramref name="round"/> at least twice and at most <paramref name="maxRounds"/> times; returns the rounds run.</summary>
    public static async Task<int> UntilSettledAsync(Func<CancellationToken, Task> round, CancellationToken cancellationToken, int maxRounds = 6)
    {
        var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        for (var rounds = 1; ; rounds++)
        {
            await round(cancellationToken).ConfigureAwait(false);
            await Task.Delay(TimeSpan.FromMilliseconds(300), cancellationToken).ConfigureAwait(false);
            var now = System.Runtime.JitInfo.GetCompiledMethodCount();
            if ((rounds >= 2 && now == compiled) || rounds >= maxRounds)
            {
                return rounds;
            }

            compiled = now;
        }
    }
}
