using System.Globalization;
using Hypervisors.HyperV.Mapping;

namespace Hypervisors.HyperV.Wire;

/// <summary>
/// WMI on top of <see cref="WsManClient"/>: WQL queries per namespace, and method calls whose return value 4096 means
/// a <c>Msvm_ConcreteJob</c> to await (polled with back-off, bounded by a timeout) and 32768+ codes go through
/// <see cref="HyperVErrorTable"/>.
/// </summary>
public sealed class WmiSession(WsManClient client, TimeSpan jobTimeout, TimeSpan maxPollInterval, TimeProvider timeProvider)
{
    public const string Virtualization = "root/virtualization/v2";
    public const string Cimv2 = "root/cimv2";
    private const ulong JobStarted = 4096;

    /// <summary>The WS-Man client underneath.</summary>
    public WsManClient Client { get; } = client;

    /// <summary>Runs a WQL query in <paramref name="wmiNamespace"/>.</summary>
    public Task<IReadOnlyList<CimInstance>> QueryAsync(string wmiNamespace, string wql, CancellationToken cancellationToken) =>
        Client.EnumerateAsync(wmiNamespace, wql, cancellationToken);

    /// <summary>A reference to an instance of <paramref name="className"/> by its key values.</summary>
    public static EndpointReference Reference(string wmiNamespace, string className, params (string Name, string Value)[] keys) =>
        new(WsManNames.ResourceUri(wmiNamespace, className), keys.Select(k => new KeyValuePair<string, string>(k.Name, k.Value)).ToList());

    /// <summary>Invokes <paramref name="method"/>; awaits its job when it returns 4096; throws the typed error otherwise.</summary>
    public async Task<CimInstance> InvokeAsync(EndpointReference target, string method, IReadOnlyList<MethodParameter> parameters, CancellationToken cancellationToken)
    {
        var output = await Client.InvokeAsync(target, method, parameters, cancellationToken).ConfigureAwait(false);
        var returnValue = output.GetUInt64("ReturnValue") ?? throw WsManEnvelope.Malformed($"{method} returned no ReturnValue.", null);
        if (returnValue == 0)
        {
            return output;
        }

        if (returnValue == JobStarted)
        {
            var job = output.GetReference("Job") ?? throw WsManEnvelope.Malformed($"{method} returned 4096 without a Job reference.", null);
            await WaitForJobAsync(job, method, cancellationToken).ConfigureAwait(false);
            return output;
        }

        throw HyperVErrorTable.Create(HyperVErrorTable.ReturnValueCode((uint)Math.Min(returnValue, uint.MaxValue)), $"{method} on {target.ClassName} returned {returnValue}.");
    }

    /// <summary>Polls the job until it completes (JobState 7, or 32768 completed with warnings) or fails (8, 9, 10).</summary>
    public async Task WaitForJobAsync(EndpointReference job, string method, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(10);
        var deadline = timeProvider.GetTimestamp() + (long)(jobTimeout.TotalSeconds * timeProvider.TimestampFrequency);
        while (true)
        {
            var instance = await Client.GetAsync(job, cancellationToken).ConfigureAwait(false);
            var state = instance.GetUInt64("JobState");
            switch (state)
            {
                case 7 or 32768:
                    return;
                case 8 or 9 or 10:
                    var code = instance.GetUInt64("ErrorCode") is { } c and not 0 ? (uint)Math.Min(c, uint.MaxValue) : 32768u;
                    var description = instance["ErrorDescription"] ?? instance["ErrorSummaryDescription"] ?? instance["JobStatus"] ?? "no description";
                    var job8 = state == 8 ? "was terminated" : state == 9 ? "was killed" : "failed";
                    throw HyperVErrorTable.Create(HyperVErrorTable.ReturnValueCode(code), $"The {method} job {job.Selector("InstanceID")} {job8}: {description}");
                case null:
                    throw WsManEnvelope.Malformed($"the {method} job has no JobState.", null);
            }

            if (timeProvider.GetTimestamp() >= deadline)
            {
                throw new HypervisorTimeoutException(
                    $"The {method} job {job.Selector("InstanceID")} did not finish within {jobTimeout} (JobState {state.Value.ToString(CultureInfo.InvariantCulture)}, {instance["PercentComplete"] ?? "?"}% complete).")
                {
                    NativeCode = "job:" + state.Value.ToString(CultureInfo.InvariantCulture),
                };
            }

            var remaining = timeProvider.GetElapsedTime(timeProvider.GetTimestamp(), deadline);
            await Task.Delay(remaining < delay ? remaining : delay, timeProvider, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, maxPollInterval.Ticks));
        }
    }
}
