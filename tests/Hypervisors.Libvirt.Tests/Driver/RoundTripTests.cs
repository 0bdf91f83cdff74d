using Hypervisors.Libvirt.Native;

namespace Hypervisors.Libvirt.Tests.Driver;

/// <summary>
/// The README's round-trip table, held: the libvirt functions each contract operation calls, counted through
/// <see cref="LibvirtCallCounter"/> on a private host of libvirt's test driver. A change that adds a call to an
/// operation fails here, and the table must be updated with the reason the call is needed.
/// </summary>
public sealed class RoundTripTests : PrivateTestHostSuite
{
    private const string LookupByUuid = "virDomainLookupByUUID";
    private const string Define = "virDomainDefineXML";
    private const string Create = "virDomainCreate";
    private const string GetInfo = "virDomainGetInfo";
    private const string HasManagedSave = "virDomainHasManagedSaveImage";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Each_operation_makes_the_calls_in_the_readme_table_and_no_more(bool callsOnCallerThread)
    {
        await using var driver = new LibvirtDriver(new LibvirtDriverOptions
        {
            Uri = HostUri,
            InstanceDirectory = Path.Combine(HostDirectory, "instances"),
            RunCallsOnCallerThread = callsOnCallerThread,
        });

        // Opening the connection is not an operation's cost: open it before counting.
        Assert.Empty(await driver.ListInstancesAsync(Ct));
        using var counter = LibvirtCallCounter.Start();
        var spec = Spec();
        var running = Spec() with { StartAfterCreate = true };

        await Expect(counter, "create", () => driver.CreateInstanceAsync(spec, Ct), LookupByUuid, Define);
        await Expect(counter, "create started", () => driver.CreateInstanceAsync(running, Ct), LookupByUuid, Define, Create);
        await Expect(counter, "repeated create (equal spec)", () => driver.CreateInstanceAsync(spec with { }, Ct), GetInfo, HasManagedSave);
        await Expect(counter, "get (shut off)", () => driver.GetInstanceAsync(spec.Id, Ct), GetInfo, HasManagedSave);
        await Expect(counter, "get (running)", () => driver.GetInstanceAsync(running.Id, Ct), GetInfo);
        await Expect(counter, "list (one running, one shut off)", () => driver.ListInstancesAsync(Ct), "virConnectListAllDomains", GetInfo, GetInfo, HasManagedSave);
        await Expect(counter, "start", () => driver.StartInstanceAsync(spec.Id, Ct), HasManagedSave, Create);
        await Expect(counter, "pause", () => driver.PauseInstanceAsync(spec.Id, Ct), GetInfo, "virDomainSuspend");
        await Expect(counter, "unpause", () => driver.UnpauseInstanceAsync(spec.Id, Ct), GetInfo, "virDomainResume");
        await Expect(counter, "soft reboot", () => driver.RebootInstanceAsync(spec.Id, RebootKind.Soft, Ct), GetInfo, "virDomainReboot");
        await Expect(counter, "hard reboot", () => driver.RebootInstanceAsync(spec.Id, RebootKind.Hard, Ct), GetInfo, "virDomainReset");
        await Expect(counter, "suspend", () => driver.SuspendInstanceAsync(spec.Id, Ct), GetInfo, "virDomainManagedSave");
        await Expect(counter, "resume", () => driver.ResumeInstanceAsync(spec.Id, Ct), GetInfo, HasManagedSave, Create);
        // The test driver shuts a domain off at once, so the first state read after the request finds it stopped.
        await Expect(counter, "graceful stop", () => driver.StopInstanceAsync(spec.Id, TimeSpan.FromSeconds(30), Ct), GetInfo, "virDomainShutdown", GetInfo, HasManagedSave);
        await Expect(counter, "power off", () => driver.PowerOffInstanceAsync(running.Id, Ct), "virDomainDestroy");
        await Expect(counter, "delete (shut off)", () => driver.DeleteInstanceAsync(running.Id, Ct), GetInfo, "virDomainUndefineFlags");
        await Expect(counter, "start again", () => driver.StartInstanceAsync(spec.Id, Ct), HasManagedSave, Create);
        await Expect(counter, "delete (running)", () => driver.DeleteInstanceAsync(spec.Id, Ct), GetInfo, "virDomainDestroy", "virDomainUndefineFlags");
    }

    [Fact]
    public async Task Refusals_cost_the_call_that_was_refused_and_one_call_to_name_the_reason()
    {
        await using var driver = new LibvirtDriver(new LibvirtDriverOptions { Uri = HostUri, InstanceDirectory = Path.Combine(HostDirectory, "instances") });
        var holder = Spec();
        await driver.CreateInstanceAsync(holder, Ct);
        using var counter = LibvirtCallCounter.Start();

        // A taken name: libvirt refuses the define; one lookup confirms it was the name.
        await Expect(counter, "create with a taken name", () => Assert.ThrowsAsync<InstanceAlreadyExistsException>(() => driver.CreateInstanceAsync(Spec() with { Name = holder.Name }, Ct)),
            LookupByUuid, Define, "virDomainLookupByName");

        // A changed spec under a known id: refused from the cached record, without a call.
        await Expect(counter, "create with a changed spec", () => Assert.ThrowsAsync<InstanceAlreadyExistsException>(() => driver.CreateInstanceAsync(holder with { VCpus = 2 }, Ct)));

        // Power off of a shut-off domain: libvirt refuses, and the state is read once to report it.
        await Expect(counter, "power off when shut off", () => Assert.ThrowsAsync<InvalidPowerStateException>(() => driver.PowerOffInstanceAsync(holder.Id, Ct)),
            "virDomainDestroy", GetInfo, HasManagedSave);

        // Pause of a shut-off domain: refused from the state read first, libvirt's suspend is not called.
        await Expect(counter, "pause when shut off", () => Assert.ThrowsAsync<InvalidPowerStateException>(() => driver.PauseInstanceAsync(holder.Id, Ct)),
            GetInfo, HasManagedSave);

        await driver.DeleteInstanceAsync(holder.Id, Ct);
    }

    [Fact]
    public async Task A_driver_that_has_not_seen_the_instance_looks_it_up_and_reads_its_record_once()
    {
        // test:///default is one host per process (a private node file is a new host per connection), so drivers
        // on it share domains but not caches.
        await using var writer = new LibvirtDriver(new LibvirtDriverOptions { Uri = "test:///default" });
        await using var reader = new LibvirtDriver(new LibvirtDriverOptions { Uri = "test:///default" });
        await using var third = new LibvirtDriver(new LibvirtDriverOptions { Uri = "test:///default" });
        var spec = Spec();
        await writer.CreateInstanceAsync(spec, Ct);
        try
        {
            using var counter = LibvirtCallCounter.Start();

            // The first get looks the handle up and reads the record from the domain's metadata; then both are cached.
            await Expect(counter, "first get", () => reader.GetInstanceAsync(spec.Id, Ct), "virConnectOpen", LookupByUuid, GetInfo, HasManagedSave, "virDomainGetMetadata");
            await Expect(counter, "second get", () => reader.GetInstanceAsync(spec.Id, Ct), GetInfo, HasManagedSave);

            // A repeated create through a driver that never saw the id: the lookup finds it, the record compares equal.
            await Expect(counter, "repeated create on a fresh driver", () => third.CreateInstanceAsync(spec, Ct), "virConnectOpen", LookupByUuid, "virDomainGetMetadata", GetInfo, HasManagedSave);
        }
        finally
        {
            await writer.DeleteInstanceAsync(spec.Id, CancellationToken.None);
        }
    }

    private static async Task Expect(LibvirtCallCounter counter, string operation, Func<Task> call, params string[] expected)
    {
        counter.Take();
        await call();
        var calls = counter.Take();

        // Compared as counts per function: a listing visits domains in libvirt's hash order.
        Assert.True(expected.Order(StringComparer.Ordinal).SequenceEqual(calls.Order(StringComparer.Ordinal)), $"{operation}: expected [{string.Join(", ", expected)}], made [{string.Join(", ", calls)}].");
    }

    private static InstanceSpec Spec() => new()
    {
        Id = Guid.NewGuid(),
        Name = "rt-" + Guid.NewGuid().ToString("N")[..10],
        VCpus = 1,
        MemoryMiB = 64,
    };
}
