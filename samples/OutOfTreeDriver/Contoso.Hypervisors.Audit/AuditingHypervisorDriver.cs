using System.Collections.Concurrent;
using Hypervisors;

namespace Contoso.Hypervisors.Audit;

/// <summary>One mutating call and how it ended.</summary>
public sealed record AuditEntry(Guid InstanceId, InstanceOperation Operation, HypervisorErrorKind? Error);

/// <summary>
/// A third-party driver: wraps any driver and records every mutating call with its outcome, in call order.
/// It shows how an out-of-tree driver builds on the SDK's packages and proves itself with the kit.
/// </summary>
public sealed class AuditingHypervisorDriver(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    private readonly ConcurrentQueue<AuditEntry> _trail = new();

    /// <summary>The calls recorded so far.</summary>
    public IReadOnlyList<AuditEntry> Trail => [.. _trail];

    public override Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default) =>
        RecordAsync(spec?.Id ?? Guid.Empty, InstanceOperation.Create, () => base.CreateInstanceAsync(spec!, cancellationToken));

    public override Task StartInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        RecordAsync(instanceId, InstanceOperation.Start, () => base.StartInstanceAsync(instanceId, cancellationToken));

    public override Task StopInstanceAsync(Guid instanceId, TimeSpan gracefulTimeout, CancellationToken cancellationToken = default) =>
        RecordAsync(instanceId, InstanceOperation.Stop, () => base.StopInstanceAsync(instanceId, gracefulTimeout, cancellationToken));

    public override Task PowerOffInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        RecordAsync(instanceId, InstanceOperation.PowerOff, () => base.PowerOffInstanceAsync(instanceId, cancellationToken));

    public override Task PauseInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        RecordAsync(instanceId, InstanceOperation.Pause, () => base.PauseInstanceAsync(instanceId, cancellationToken));

    public override Task DeleteInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        RecordAsync(instanceId, InstanceOperation.Delete, () => base.DeleteInstanceAsync(instanceId, cancellationToken));

    private async Task RecordAsync(Guid instanceId, InstanceOperation operation, Func<Task> call) =>
        await RecordAsync(instanceId, operation, async () =>
        {
            await call();
            return true;
        });

    private async Task<T> RecordAsync<T>(Guid instanceId, InstanceOperation operation, Func<Task<T>> call)
    {
        try
        {
            var result = await call();
            _trail.Enqueue(new AuditEntry(instanceId, operation, null));
            return result;
        }
        catch (HypervisorException ex)
        {
            _trail.Enqueue(new AuditEntry(instanceId, operation, ex.Kind));
            throw;
        }
    }
}
