namespace Hypervisors.Conformance;

/// <summary>
/// What a driver author supplies to the conformance kit: a driver, and specs that fit it. Subclass it once per
/// driver configuration and pass the subclass as <c>TFixture</c> to each suite (LifecycleTests&lt;TFixture&gt;
/// and the others). One fixture instance, and so one driver, serves all tests of a suite class; every test creates
/// its own instances with fresh ids and names starting with <see cref="NamePrefix"/>, and deletes them.
/// </summary>
public abstract class DriverFixture : IAsyncLifetime
{
    private IHypervisorDriver? _driver;
    private int _nameCounter;
    private string? _skipReason;

    /// <summary>The driver under test, created by <see cref="CreateDriverAsync"/>.</summary>
    /// <remarks>
    /// When <see cref="CreateDriverAsync"/> skipped (for example <c>Assert.Skip</c> because a local part such as
    /// libvirtd is missing), every test that touches the driver is skipped with the same reason.
    /// </remarks>
    public IHypervisorDriver Driver
    {
        get
        {
            if (_skipReason is not null)
            {
                Assert.Skip(_skipReason);
            }

            return _driver ?? throw new InvalidOperationException("The fixture has not been initialized.");
        }
    }

    /// <summary>A prefix for instance names made by the kit, unique per fixture so runs on a shared host do not collide.</summary>
    public string NamePrefix { get; } = "kit-" + Guid.NewGuid().ToString("N")[..6] + "-";

    /// <summary>A fresh instance name: <see cref="NamePrefix"/> followed by a per-fixture counter.</summary>
    public string NewName() => NamePrefix + Interlocked.Increment(ref _nameCounter).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Whether this fixture's driver is the only user of its host's resources, so the kit may check that starting
    /// and stopping an instance moves <see cref="HostInfo.VCpusUsed"/> and <see cref="HostInfo.MemoryMiBUsed"/> by
    /// exactly the instance's size. False by default: real hosts run other guests and other test classes in parallel.
    /// </summary>
    public virtual bool HostResourcesAreExclusive => false;

    /// <summary>
    /// Whether the guests of the instances the kit creates can act on requests that need them: a soft reboot, and a
    /// suspend or a device hot-plug where the hypervisor needs the guest for it. True (the default) when they run a
    /// guest agent, PV drivers or integration services, or the hypervisor needs none. False for a fixture whose
    /// guests lack them, like a new Xen HVM guest: the kit then expects soft reboot to be refused with
    /// <see cref="GuestFeatureUnavailableException"/> (changing nothing), lets suspend and hot-plug be refused the
    /// same way, and does not rely on them to reach a state.
    /// </summary>
    public virtual bool GuestsCooperate => true;

    /// <summary>How long the kit waits for an expected event or state; raise it for slow hypervisors.</summary>
    public virtual TimeSpan EventTimeout => TimeSpan.FromSeconds(10);

    /// <summary>The graceful-stop timeout the kit passes to <see cref="IHypervisorDriver.StopInstanceAsync"/>.</summary>
    public virtual TimeSpan GracefulStopTimeout => TimeSpan.FromSeconds(2);

    /// <summary>How many creates and deletes the concurrency tests run in parallel.</summary>
    public virtual int Parallelism => 8;

    /// <summary>How many instances the concurrency tests create in all.</summary>
    public virtual int ConcurrentInstanceCount => 16;

    /// <summary>Creates the driver under test.</summary>
    protected abstract Task<IHypervisorDriver> CreateDriverAsync();

    /// <summary>
    /// A valid spec for this driver with the given id and name: by default 1 vCPU, 64 MiB, no disks and no
    /// interfaces. Override to add what the driver needs (a disk from a base image, a network).
    /// </summary>
    public virtual InstanceSpec CreateSpec(Guid id, string name) => new()
    {
        Id = id,
        Name = name,
        VCpus = 1,
        MemoryMiB = 64,
        Metadata = new Dictionary<string, string> { ["kit"] = "conformance" },
    };

    /// <summary>A volume this driver can attach, with the given id (for example a file the fixture creates).</summary>
    public virtual VolumeSpec CreateVolumeSpec(string volumeId) => new(volumeId, "/var/lib/hypervisors-kit/" + volumeId + ".img");

    /// <summary>
    /// An image reference this driver can create a disk from (<see cref="DiskSpec.ImageRef"/>), or null when the
    /// fixture has none; the kit's image-disk test skips then.
    /// </summary>
    public virtual string? ImageRef => null;

    /// <summary>A kernel this driver can boot directly (<see cref="InstanceSpec.KernelBoot"/>), or null to skip the kernel-boot test.</summary>
    public virtual KernelBootSpec? KernelBoot => null;

    /// <summary>The network that interfaces made by the kit plug into.</summary>
    public virtual string NetworkName => "default";

    /// <summary>Initializes the driver.</summary>
    public virtual async ValueTask InitializeAsync()
    {
        try
        {
            _driver = await CreateDriverAsync();
        }
        catch (Xunit.Sdk.SkipException ex)
        {
            const string prefix = "$XunitDynamicSkip$";
            _skipReason = ex.Message.StartsWith(prefix, StringComparison.Ordinal) ? ex.Message[prefix.Length..] : ex.Message;
        }
    }

    /// <summary>Deletes whatever instances the kit left behind, then disposes the driver.</summary>
    public virtual async ValueTask DisposeAsync()
    {
        if (_driver is null)
        {
            return;
        }

        try
        {
            foreach (var instance in await _driver.ListInstancesAsync())
            {
                if (instance.Name.StartsWith(NamePrefix, StringComparison.Ordinal))
                {
                    try
                    {
                        await _driver.DeleteInstanceAsync(instance.Id);
                    }
                    catch (HypervisorException)
                    {
                        // Best effort: the suite has already reported whatever went wrong.
                    }
                }
            }
        }
        catch (HypervisorException)
        {
            // The driver may be deliberately broken or disconnected.
        }

        await _driver.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
