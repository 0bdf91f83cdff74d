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
    /// With <see cref="HostResourcesAreExclusive"/>: whether <see cref="HostInfo.LocalDiskGiBUsed"/> moves by exactly
    /// the disks the driver creates (false where it is the real file system's usage, which others share and sparse
    /// files do not move). True by default.
    /// </summary>
    public virtual bool HostDiskUsageIsExclusive => HostResourcesAreExclusive;

    /// <summary>
    /// Whether the guests of the instances the kit creates can act on requests that need them: a soft reboot, and a
    /// suspend or a device hot-plug where the hypervisor needs the guest for it. True (the default) when they run a
    /// guest agent, PV drivers or integration services, or the hypervisor needs none. False for a fixture whose
    /// guests lack them, like a new Xen HVM guest: the kit then expects soft reboot to be refused with
    /// <see cref="GuestFeatureUnavailableException"/> (changing nothing), lets suspend and hot-plug be refused the
    /// same way, and does not rely on them to reach a state.
    /// </summary>
    public virtual bool GuestsCooperate => true;

    /// <summary>
    /// The most vCPUs one instance of this driver can have, or null (the default) when the driver sets no limit of
    /// its own. The kit's non-default sizes ask for 2 vCPUs, or this limit when it is lower; and a driver that declares
    /// a limit must refuse a spec above it with <see cref="InvalidSpecException"/> naming <c>spec.VCpus</c>, creating
    /// nothing, which the kit checks. Say why in the override's comment (for example "UML 6.1 is uniprocessor").
    /// </summary>
    public virtual int? MaxVCpus => null;

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

    /// <summary>
    /// Hooks this fixture cannot implement against its driver's peer, each with the reason (for example "vcsim has
    /// no way to crash a guest"). <see cref="ComplianceTests"/> fails a fixture that neither overrides a hook nor
    /// names it here with a reason, or that does both. The kit skips a test whose hook is declared missing, naming
    /// the reason.
    /// </summary>
    public virtual IReadOnlyDictionary<FixtureHook, string> MissingHooks => new Dictionary<FixtureHook, string>();

    /// <summary>
    /// <see cref="FixtureHook.CrashInstance"/>: makes the running instance <paramref name="instanceId"/> crash the
    /// way a guest kernel panic or a killed hypervisor process would, so the driver reports it
    /// <see cref="PowerState.Crashed"/> (the kit waits up to <see cref="EventTimeout"/> for it).
    /// </summary>
    public virtual Task CrashInstanceAsync(Guid instanceId, CancellationToken cancellationToken) =>
        throw new NotSupportedException(HookNotImplemented(FixtureHook.CrashInstance));

    /// <summary>
    /// <see cref="FixtureHook.SlowOperation"/>: makes the driver's peer take much longer than
    /// <see cref="EventTimeout"/> over <paramref name="operation"/> (at least 30 s, or until the returned handle is
    /// disposed), so the kit can cancel the call while it is in progress. Returns null for an operation the fixture
    /// cannot slow down; the kit then leaves that operation out.
    /// </summary>
    public virtual Task<IAsyncDisposable?> SlowDownAsync(InstanceOperation operation, CancellationToken cancellationToken) =>
        throw new NotSupportedException(HookNotImplemented(FixtureHook.SlowOperation));

    /// <summary>
    /// <see cref="FixtureHook.FillHost"/>: takes the host's free vCPUs and memory away (another tenant, a reservation,
    /// smaller totals) until the returned handle is disposed, so that no instance the kit makes can start or resume.
    /// Instances already holding resources keep them.
    /// </summary>
    public virtual Task<IAsyncDisposable> FillHostAsync(CancellationToken cancellationToken) =>
        throw new NotSupportedException(HookNotImplemented(FixtureHook.FillHost));

    /// <summary>
    /// <see cref="FixtureHook.WriteConsole"/>: makes the running instance <paramref name="instanceId"/> write
    /// <paramref name="text"/> to its serial console, as the guest would.
    /// </summary>
    public virtual Task WriteConsoleAsync(Guid instanceId, string text, CancellationToken cancellationToken) =>
        throw new NotSupportedException(HookNotImplemented(FixtureHook.WriteConsole));

    /// <summary>
    /// With <see cref="FixtureHook.WriteConsole"/>: how many characters of console output the driver keeps; the kit
    /// writes more than that and expects the newest text with <see cref="ConsoleOutput.Truncated"/> set.
    /// </summary>
    public virtual int ConsoleBufferCharacters => 64 * 1024;

    /// <summary>
    /// <see cref="FixtureHook.OwnDriver"/>: a second driver on the same host that the calling test owns and
    /// disposes (the kit disposes it while watches run). The fixture's <see cref="Driver"/> stays untouched.
    /// </summary>
    public virtual Task<IHypervisorDriver> CreateOwnDriverAsync(CancellationToken cancellationToken) =>
        throw new NotSupportedException(HookNotImplemented(FixtureHook.OwnDriver));

    /// <summary>
    /// Whether this fixture's driver promises exactly one event per transition (no repeats, nothing extra), so
    /// the kit checks the event stream strictly. False by default: many hypervisors report a transition in steps.
    /// </summary>
    public virtual bool EmitsExactlyOneEventPerTransition => false;

    /// <summary>Skips the calling test when <paramref name="hook"/> is declared missing.</summary>
    public void SkipUnlessHook(FixtureHook hook)
    {
        if (MissingHooks.TryGetValue(hook, out var reason))
        {
            Assert.Skip($"The fixture declares the {hook} hook missing: {reason}");
        }
    }

    private string HookNotImplemented(FixtureHook hook) =>
        $"{GetType().Name} neither implements the {hook} hook nor declares it in MissingHooks.";

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
