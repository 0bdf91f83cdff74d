namespace Hypervisors.Conformance;

/// <summary>
/// An instance the kit created; <c>await using</c> deletes it again (whatever state it is in, and ignoring that a
/// test already deleted it), so a failing test leaves nothing behind.
/// </summary>
public sealed class KitInstance : IAsyncDisposable
{
    private readonly IHypervisorDriver _driver;

    internal KitInstance(IHypervisorDriver driver, InstanceSpec spec, InstanceInfo created)
    {
        _driver = driver;
        Spec = spec;
        Created = created;
    }

    /// <summary>The instance's id.</summary>
    public Guid Id => Spec.Id;

    /// <summary>The spec it was created from.</summary>
    public InstanceSpec Spec { get; }

    /// <summary>What the create call returned.</summary>
    public InstanceInfo Created { get; }

    /// <summary>Reads the instance's current power state.</summary>
    public async Task<PowerState> GetPowerStateAsync(CancellationToken cancellationToken = default) =>
        (await _driver.GetInstanceAsync(Id, cancellationToken)).PowerState;

    /// <summary>Deletes the instance if it still exists.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _driver.DeleteInstanceAsync(Id, CancellationToken.None);
        }
        catch (HypervisorException)
        {
            // Already deleted by the test, or the driver is broken or disconnected; the fixture sweeps leftovers.
        }
        catch (ObjectDisposedException)
        {
            // A test disposed the driver.
        }
    }
}
