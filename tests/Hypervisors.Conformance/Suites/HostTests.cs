namespace Hypervisors.Conformance;

/// <summary>Host information: sane totals, and (on an exclusive host) resource accounting for running instances.</summary>
public abstract class HostTests<TFixture>(TFixture fixture) : DriverSuite<TFixture>(fixture)
    where TFixture : DriverFixture
{
    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Host_info_reports_positive_totals_and_usage_within_them()
    {
        var host = await Driver.GetHostInfoAsync(Ct);
        Assert.True(host.VCpusTotal > 0, $"VCpusTotal is {host.VCpusTotal}.");
        Assert.True(host.MemoryMiBTotal > 0, $"MemoryMiBTotal is {host.MemoryMiBTotal}.");
        Assert.True(host.LocalDiskGiBTotal > 0, $"LocalDiskGiBTotal is {host.LocalDiskGiBTotal}.");
        // vCPUs may be overcommitted on a real host, so only memory and disk usage are bounded by their totals.
        Assert.True(host.VCpusUsed >= 0, $"VCpusUsed is {host.VCpusUsed}.");
        Assert.InRange(host.MemoryMiBUsed, 0, host.MemoryMiBTotal);
        Assert.InRange(host.LocalDiskGiBUsed, 0, host.LocalDiskGiBTotal);
        Assert.True(host.Cpu.Sockets > 0 && host.Cpu.CoresPerSocket > 0 && host.Cpu.ThreadsPerCore > 0, $"CPU topology is {host.Cpu}.");
        Assert.False(string.IsNullOrWhiteSpace(host.Cpu.Architecture), "Cpu.Architecture is empty.");
        Assert.False(string.IsNullOrWhiteSpace(host.HostName), "HostName is empty.");
        Assert.False(string.IsNullOrWhiteSpace(host.HypervisorVersion), "HypervisorVersion is empty.");
        Assert.True(host.Uptime >= TimeSpan.Zero, $"Uptime is {host.Uptime}.");
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Host_info_lists_at_least_one_guest_architecture()
    {
        var host = await Driver.GetHostInfoAsync(Ct);
        Assert.NotEmpty(host.SupportedArchitectures);
        Assert.All(host.SupportedArchitectures, a => Assert.False(string.IsNullOrWhiteSpace(a)));
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Host_type_matches_the_declared_hypervisor_type()
    {
        var host = await Driver.GetHostInfoAsync(Ct);
        Assert.False(string.IsNullOrWhiteSpace(Capabilities.HypervisorType), "Capabilities.HypervisorType is empty.");
        Assert.Equal(Capabilities.HypervisorType, host.HypervisorType);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Running_instances_count_against_host_resources_and_stopped_ones_do_not()
    {
        if (!Fixture.HostResourcesAreExclusive)
        {
            Assert.Skip("The fixture declares HostResourcesAreExclusive = false: other guests share the host.");
        }

        var before = await Driver.GetHostInfoAsync(Ct);
        await using var instance = await CreateInstanceAsync();
        var created = await Driver.GetHostInfoAsync(Ct);
        Assert.True(before.VCpusUsed == created.VCpusUsed, $"Creating a stopped instance moved VCpusUsed from {before.VCpusUsed} to {created.VCpusUsed}.");
        Assert.True(before.MemoryMiBUsed == created.MemoryMiBUsed, $"Creating a stopped instance moved MemoryMiBUsed from {before.MemoryMiBUsed} to {created.MemoryMiBUsed}.");

        await Driver.StartInstanceAsync(instance.Id, Ct);
        var running = await Driver.GetHostInfoAsync(Ct);
        Assert.True(running.VCpusUsed - before.VCpusUsed == instance.Spec.VCpus,
            $"Starting a {instance.Spec.VCpus}-vCPU instance moved VCpusUsed from {before.VCpusUsed} to {running.VCpusUsed}.");
        Assert.True(running.MemoryMiBUsed - before.MemoryMiBUsed == instance.Spec.MemoryMiB,
            $"Starting a {instance.Spec.MemoryMiB} MiB instance moved MemoryMiBUsed from {before.MemoryMiBUsed} to {running.MemoryMiBUsed}.");

        await Driver.PowerOffInstanceAsync(instance.Id, Ct);
        var stopped = await Driver.GetHostInfoAsync(Ct);
        Assert.True(stopped.VCpusUsed == before.VCpusUsed, $"Powering off left VCpusUsed at {stopped.VCpusUsed}; it was {before.VCpusUsed} before start.");
        Assert.True(stopped.MemoryMiBUsed == before.MemoryMiBUsed, $"Powering off left MemoryMiBUsed at {stopped.MemoryMiBUsed}; it was {before.MemoryMiBUsed} before start.");
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Paused_instances_keep_host_resources_and_suspended_ones_release_them()
    {
        if (!Fixture.HostResourcesAreExclusive)
        {
            Assert.Skip("The fixture declares HostResourcesAreExclusive = false: other guests share the host.");
        }

        RequireCapability(Capabilities.SupportsPause || Capabilities.SupportsSuspend, "SupportsPause or SupportsSuspend");
        var before = await Driver.GetHostInfoAsync(Ct);
        await using var instance = await CreateInstanceInStateAsync(PowerState.Running);
        if (Capabilities.SupportsPause)
        {
            await Driver.PauseInstanceAsync(instance.Id, Ct);
            var paused = await Driver.GetHostInfoAsync(Ct);
            Assert.True(paused.VCpusUsed - before.VCpusUsed == instance.Spec.VCpus, $"A paused {instance.Spec.VCpus}-vCPU instance moved VCpusUsed from {before.VCpusUsed} to {paused.VCpusUsed}.");
            Assert.True(paused.MemoryMiBUsed - before.MemoryMiBUsed == instance.Spec.MemoryMiB, $"A paused {instance.Spec.MemoryMiB} MiB instance moved MemoryMiBUsed from {before.MemoryMiBUsed} to {paused.MemoryMiBUsed}.");
            await Driver.UnpauseInstanceAsync(instance.Id, Ct);
        }

        if (Capabilities.SupportsSuspend && Fixture.GuestsCooperate)
        {
            await Driver.SuspendInstanceAsync(instance.Id, Ct);
            var suspended = await Driver.GetHostInfoAsync(Ct);
            Assert.True(suspended.VCpusUsed == before.VCpusUsed, $"A suspended instance left VCpusUsed at {suspended.VCpusUsed}; it was {before.VCpusUsed} before.");
            Assert.True(suspended.MemoryMiBUsed == before.MemoryMiBUsed, $"A suspended instance left MemoryMiBUsed at {suspended.MemoryMiBUsed}; it was {before.MemoryMiBUsed} before.");
        }
    }

    [Theory(Timeout = KitLimits.TestTimeoutMilliseconds)]
    [InlineData(PowerState.Shutdown)]
    [InlineData(PowerState.Running)]
    [InlineData(PowerState.Paused)]
    [InlineData(PowerState.Suspended)]
    public virtual async Task Host_usage_follows_an_instance_through_create_each_state_and_delete(PowerState state)
    {
        SkipUnlessExclusive();
        SkipUnlessReachable(state);
        var before = await Driver.GetHostInfoAsync(Ct);
        await using var instance = await CreateInstanceAsync(s => s with { VCpus = NonDefaultVCpus, MemoryMiB = s.MemoryMiB * 2, Disks = [.. s.Disks, new DiskSpec(2)] });
        var diskGiB = Fixture.HostDiskUsageIsExclusive ? instance.Spec.Disks.Sum(d => d.SizeGiB) : (long?)null;
        var created = await Driver.GetHostInfoAsync(Ct);
        AssertUsage(before, created, 0, 0, diskGiB, "creating a stopped instance");

        await BringToStateAsync(instance.Id, state);
        var holds = state is PowerState.Running or PowerState.Paused;
        var inState = await Driver.GetHostInfoAsync(Ct);
        AssertUsage(before, inState, holds ? instance.Spec.VCpus : 0, holds ? instance.Spec.MemoryMiB : 0, diskGiB, $"bringing the instance to {state}");

        await Driver.DeleteInstanceAsync(instance.Id, Ct);
        var deleted = await Driver.GetHostInfoAsync(Ct);
        AssertUsage(before, deleted, 0, 0, diskGiB is null ? null : 0, $"deleting the instance from {state}");
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Usage_of_two_instances_adds_up_and_deleting_one_leaves_the_others_share()
    {
        SkipUnlessExclusive();
        var before = await Driver.GetHostInfoAsync(Ct);
        await using var first = await CreateInstanceInStateAsync(PowerState.Running, s => s with { VCpus = NonDefaultVCpus });
        await using var second = await CreateInstanceInStateAsync(PowerState.Running, s => s with { MemoryMiB = s.MemoryMiB * 2 });
        var both = await Driver.GetHostInfoAsync(Ct);
        AssertUsage(before, both, first.Spec.VCpus + second.Spec.VCpus, first.Spec.MemoryMiB + second.Spec.MemoryMiB,
            Fixture.HostDiskUsageIsExclusive ? first.Spec.Disks.Sum(d => d.SizeGiB) + second.Spec.Disks.Sum(d => d.SizeGiB) : null, "running two instances");
        await Driver.DeleteInstanceAsync(first.Id, Ct);
        var one = await Driver.GetHostInfoAsync(Ct);
        AssertUsage(before, one, second.Spec.VCpus, second.Spec.MemoryMiB, Fixture.HostDiskUsageIsExclusive ? second.Spec.Disks.Sum(d => d.SizeGiB) : null, "deleting one of two running instances");
    }

    private void SkipUnlessExclusive()
    {
        if (!Fixture.HostResourcesAreExclusive)
        {
            Assert.Skip("The fixture declares HostResourcesAreExclusive = false: other guests share the host.");
        }
    }

    private static void AssertUsage(HostInfo before, HostInfo after, int vcpus, long memoryMiB, long? diskGiB, string what)
    {
        Assert.True(after.VCpusUsed - before.VCpusUsed == vcpus, $"After {what}, VCpusUsed moved from {before.VCpusUsed} to {after.VCpusUsed}; expected +{vcpus}.");
        Assert.True(after.MemoryMiBUsed - before.MemoryMiBUsed == memoryMiB, $"After {what}, MemoryMiBUsed moved from {before.MemoryMiBUsed} to {after.MemoryMiBUsed}; expected +{memoryMiB}.");
        Assert.True(diskGiB is null || after.LocalDiskGiBUsed - before.LocalDiskGiBUsed == diskGiB, $"After {what}, LocalDiskGiBUsed moved from {before.LocalDiskGiBUsed} to {after.LocalDiskGiBUsed}; expected +{diskGiB}.");
    }
}
