namespace Hypervisors.Fake.Tests.Teeth;

/// <summary>
/// Proves the conformance kit catches broken drivers: the whole kit passes on the healthy fake, and for each
/// deliberately broken variant the kit test aimed at that promise fails (other tests may fail too).
/// </summary>
public sealed class KitHasTeethTests
{
    private static readonly Dictionary<string, Func<IHypervisorDriver, IHypervisorDriver>> Variants = new()
    {
        [nameof(PauseLeavesSuspended)] = d => new PauseLeavesSuspended(d),
        [nameof(CreateNotIdempotent)] = d => new CreateNotIdempotent(d),
        [nameof(DeleteLeavesListed)] = d => new DeleteLeavesListed(d),
        [nameof(PauseEventsMissing)] = d => new PauseEventsMissing(d),
        [nameof(EventsOutOfOrder)] = d => new EventsOutOfOrder(d),
        [nameof(UsageNotCounted)] = d => new UsageNotCounted(d),
        [nameof(IllegalStartAllowed)] = d => new IllegalStartAllowed(d),
        [nameof(RefusalChangesState)] = d => new RefusalChangesState(d),
        [nameof(NotFoundAsGenericError)] = d => new NotFoundAsGenericError(d),
        [nameof(DeleteUnknownSucceeds)] = d => new DeleteUnknownSucceeds(d),
        [nameof(SnapshotsDeclaredFalseButWork)] = d => new SnapshotsDeclaredFalseButWork(d),
        [nameof(ListMissesAnInstance)] = d => new ListMissesAnInstance(d),
        [nameof(CancellationIgnored)] = d => new CancellationIgnored(d),
        [nameof(DoubleAttachAllowed)] = d => new DoubleAttachAllowed(d),
        [nameof(MetadataDropped)] = d => new MetadataDropped(d),
        [nameof(VCpusMisreported)] = d => new VCpusMisreported(d),
        [nameof(HostTypeMismatch)] = d => new HostTypeMismatch(d),
        [nameof(ImageDisksDeclaredFalseButWork)] = d => new ImageDisksDeclaredFalseButWork(d),
        [nameof(SuspendKeepsMemory)] = d => new SuspendKeepsMemory(d),
        [nameof(WatchIgnoresCancellation)] = d => new WatchIgnoresCancellation(d),
        [nameof(DeletedNamesStayReserved)] = d => new DeletedNamesStayReserved(d),
    };

    [Fact]
    public async Task The_whole_kit_passes_on_the_healthy_fake()
    {
        var run = await KitRunner.RunAsync(() => new FakeFixture());
        Assert.True(run.Failed.Count == 0, run.Describe());
        Assert.True(run.Passed.Count >= 60, run.Describe());
    }

    [Theory]
    [InlineData(nameof(PauseLeavesSuspended), "Pausing_a_running_instance_leaves_it_paused")]
    [InlineData(nameof(CreateNotIdempotent), "Creating_the_same_spec_twice_returns_the_same_instance_listed_once")]
    [InlineData(nameof(DeleteLeavesListed), "Deleted_instances_vanish_from_the_list")]
    [InlineData(nameof(PauseEventsMissing), "Pause_and_unpause_events_carry_paused_and_running")]
    [InlineData(nameof(EventsOutOfOrder), "Lifecycle_events_arrive_in_order_with_their_power_states")]
    [InlineData(nameof(UsageNotCounted), "Running_instances_count_against_host_resources_and_stopped_ones_do_not")]
    [InlineData(nameof(IllegalStartAllowed), "Starting_a_running_instance_throws_invalid_power_state")]
    [InlineData(nameof(RefusalChangesState), "Every_illegal_operation_from_a_reachable_state_throws_invalid_power_state_and_changes_nothing")]
    [InlineData(nameof(NotFoundAsGenericError), "Getting_an_unknown_instance_throws_instance_not_found")]
    [InlineData(nameof(DeleteUnknownSucceeds), "Deleting_an_unknown_instance_throws_instance_not_found")]
    [InlineData(nameof(SnapshotsDeclaredFalseButWork), "Operations_declared_unsupported_throw_operation_not_supported")]
    [InlineData(nameof(ListMissesAnInstance), "Listing_shows_created_instances_with_their_power_states")]
    [InlineData(nameof(CancellationIgnored), "A_cancelled_create_throws_and_creates_nothing")]
    [InlineData(nameof(DoubleAttachAllowed), "Attaching_the_same_volume_twice_throws_already_exists")]
    [InlineData(nameof(MetadataDropped), "Metadata_given_at_create_is_returned_by_get_and_list")]
    [InlineData(nameof(VCpusMisreported), "Instance_info_reports_the_name_vcpus_and_memory_of_the_spec")]
    [InlineData(nameof(HostTypeMismatch), "Host_type_matches_the_declared_hypervisor_type")]
    [InlineData(nameof(ImageDisksDeclaredFalseButWork), "Create_features_declared_unsupported_throw_operation_not_supported_and_create_nothing")]
    [InlineData(nameof(SuspendKeepsMemory), "Paused_instances_keep_host_resources_and_suspended_ones_release_them")]
    [InlineData(nameof(WatchIgnoresCancellation), "Cancelling_an_event_watch_ends_the_enumeration")]
    [InlineData(nameof(DeletedNamesStayReserved), "A_deleted_instances_name_can_be_used_again")]
    public async Task The_kit_fails_a_broken_driver(string variant, string expectedFailure)
    {
        var run = await KitRunner.RunAsync(() => new BrokenFixture(Variants[variant]));
        Assert.True(run.FailedTest(expectedFailure), $"{variant}: expected {expectedFailure} to fail. {run.Describe()}");
    }

    [Fact]
    public void Every_variant_has_a_case()
    {
        var cases = typeof(KitHasTeethTests).GetMethod(nameof(The_kit_fails_a_broken_driver))!
            .GetCustomAttributes(typeof(InlineDataAttribute), false).Cast<InlineDataAttribute>().Select(a => (string)a.Data[0]!);
        Assert.Equal(Variants.Keys.Order(), cases.Order());
        Assert.True(Variants.Count >= 10);
    }

    /// <summary>A fixture whose driver is a healthy fake wrapped in a broken variant.</summary>
    private sealed class BrokenFixture(Func<IHypervisorDriver, IHypervisorDriver> breakIt) : FakeFixture
    {
        public override TimeSpan EventTimeout => TimeSpan.FromSeconds(1);

        protected override IHypervisorDriver Wrap(FakeHypervisorDriver fake) => breakIt(fake);
    }
}
