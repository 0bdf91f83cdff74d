using System.Collections.Concurrent;
using System.Globalization;

namespace Hypervisors.HyperV.Wire;

/// <summary>
/// WMI on top of <see cref="WsManClient"/>: WQL queries per namespace, and method calls whose return value 4096 means
/// a <c>Msvm_ConcreteJob</c> to await. Failures leave as <see cref="WsManException"/> (<c>rv:N</c> for return values
/// and job error codes); the driver maps them.
/// </summary>
/// <remarks>
/// Job polling: a job's first poll is sent after the time jobs of the same method have taken lately (their own
/// <c>StartTime</c> to <c>TimeOfLastStateChange</c>, as the host reports it), so most jobs are found finished at the
/// first poll; a job still running is polled again after a quarter of that (at least 5 ms), doubling up to the poll interval.
/// </remarks>
internal sealed class WmiSession(WsManClient client, TimeSpan jobTimeout, TimeSpan maxPollInterval, TimeProvider timeProvider)
{
    public const string Virtualization = "root/virtualization/v2";
    public const string Cimv2 = "root/cimv2";
    private const ulong JobStarted = 4096;
    private static readonly TimeSpan MinimumPollDelay = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan MaximumFirstPollDelay = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan UnknownJobFirstDelay = TimeSpan.FromMilliseconds(10);
    private readonly ConcurrentDictionary<string, long> _typicalJobTicks = new(StringComparer.Ordinal);

    /// <summary>The WS-Man client underneath.</summary>
    public WsManClient Client { get; } = client;

    /// <summary>Runs a WQL query in <paramref name="wmiNamespace"/>.</summary>
    public Task<IReadOnlyList<CimInstance>> QueryAsync(string wmiNamespace, string wql, CancellationToken cancellationToken) =>
        Client.EnumerateAsync(wmiNamespace, wql, cancellationToken);

    /// <summary>A reference to an instance of <paramref name="className"/> by its key values.</summary>
    public static EndpointReference Reference(string wmiNamespace, string className, params (string Name, string Value)[] keys) =>
        new(WsManNames.ResourceUri(wmiNamespace, className), keys.Select(k => new KeyValuePair<string, string>(k.Name, k.Value)).ToList());

    /// <summary>The delay before the first poll of a job of <paramref name="method"/>: what such jobs took lately.</summary>
    public TimeSpan FirstPollDelay(string method) =>
        _typicalJobTicks.TryGetValue(method, out var ticks) ? TimeSpan.FromTicks(Math.Clamp(ticks, MinimumPollDelay.Ticks, MaximumFirstPollDelay.Ticks)) : UnknownJobFirstDelay;

    /// <summary>Invokes <paramref name="method"/>; awaits its job when it returns 4096; throws <see cref="WsManException"/> otherwise.</summary>
    public async Task<CimInstance> InvokeAsync(EndpointReference target, string method, IReadOnlyList<MethodParameter> parameters, CancellationToken cancellationToken)
    {
        var output = await Client.InvokeAsync(target, method, parameters, cancellationToken).ConfigureAwait(false);
        var returnValue = output.GetUInt64("ReturnValue") ?? throw WsManException.Malformed($"{method} returned no ReturnValue.");
        if (returnValue == 0)
        {
            return output;
        }

        if (returnValue == JobStarted)
        {
            var job = output.GetReference("Job") ?? throw WsManException.Malformed($"{method} returned 4096 without a Job reference.");
            await WaitForJobAsync(job, method, cancellationToken).ConfigureAwait(false);
            return output;
        }

        var code = (uint)Math.Min(returnValue, uint.MaxValue);
        throw new WsManException(WsManFailure.MethodFailed, ReturnValueCode(code), $"{method} on {target.ClassName} returned {returnValue}.") { ClassName = target.ClassName };
    }

    /// <summary>The native code of a WMI method return value or job error code.</summary>
    public static string ReturnValueCode(uint returnValue) => "rv:" + returnValue.ToString(CultureInfo.InvariantCulture);

    /// <summary>Polls the job until it completes (JobState 7, or 32768 completed with warnings) or fails (8, 9, 10).</summary>
    public async Task WaitForJobAsync(EndpointReference job, string method, CancellationToken cancellationToken)
    {
        var started = timeProvider.GetTimestamp();
        var deadline = started + (long)(jobTimeout.TotalSeconds * timeProvider.TimestampFrequency);
        var first = FirstPollDelay(method);
        var delay = first;
        var backOff = TimeSpan.FromTicks(Math.Clamp(first.Ticks / 4, MinimumPollDelay.Ticks, Math.Max(MinimumPollDelay.Ticks, maxPollInterval.Ticks)));
        while (true)
        {
            var remaining = timeProvider.GetElapsedTime(timeProvider.GetTimestamp(), deadline);
            if (remaining > TimeSpan.Zero)
            {
                await Task.Delay(remaining < delay ? remaining : delay, timeProvider, cancellationToken).ConfigureAwait(false);
            }

            var instance = await Client.GetAsync(job, cancellationToken).ConfigureAwait(false);
            var state = instance.GetUInt64("JobState");
            switch (state)
            {
                case 7 or 32768:
                    Learn(method, instance, timeProvider.GetElapsedTime(started));
                    return;
                case 8 or 9 or 10:
                    var code = instance.GetUInt64("ErrorCode") is { } c and not 0 ? (uint)Math.Min(c, uint.MaxValue) : 32768u;
                    var description = instance["ErrorDescription"] ?? instance["ErrorSummaryDescription"] ?? instance["JobStatus"] ?? "no description";
                    var ended = state == 8 ? "was terminated" : state == 9 ? "was killed" : "failed";
                    throw new WsManException(WsManFailure.JobFailed, ReturnValueCode(code), $"The {method} job {job.Selector("InstanceID")} {ended}: {description}")
                    {
                        ClassName = "Msvm_ConcreteJob",
                    };
                case null:
                    throw WsManException.Malformed($"the {method} job has no JobState.");
            }

            if (timeProvider.GetTimestamp() >= deadline)
            {
                throw new WsManException(WsManFailure.JobTimedOut, "job:" + state.Value.ToString(CultureInfo.InvariantCulture),
                    $"The {method} job {job.Selector("InstanceID")} did not finish within {jobTimeout} (JobState {state.Value.ToString(CultureInfo.InvariantCulture)}, {instance["PercentComplete"] ?? "?"}% complete).");
            }

            delay = backOff;
            backOff = TimeSpan.FromTicks(Math.Min(backOff.Ticks * 2, maxPollInterval.Ticks));
        }
    }

    /// <summary>
    /// Remembers how long the finished job took: the host's own StartTime to TimeOfLastStateChange when it reports
    /// both, else the time this session waited. A moving average (new value weighs a quarter) per method.
    /// </summary>
    private void Learn(string method, CimInstance job, TimeSpan waited)
    {
        var took = TryParseTime(job["StartTime"], out var start) && TryParseTime(job["TimeOfLastStateChange"], out var end) && end >= start
            ? end - start
            : waited;
        _typicalJobTicks.AddOrUpdate(method, took.Ticks, (_, previous) => previous + ((took.Ticks - previous) / 4));
    }

    private static bool TryParseTime(string? text, out DateTimeOffset time) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out time);
}
