namespace Hypervisors.Fake.Tests.Teeth;

/// <summary>
/// Proves the conformance kit catches broken drivers: the whole kit passes on the healthy fake, and for each
/// deliberately broken variant the kit test aimed at that promise fails (other tests may fail too).
/// </summary>
public sealed class KitHasTeethTests
{
    /// <summary>Every broken variant in this assembly, by name: each wraps a healthy fake and breaks one promise.</summary>
    private static readonly Dictionary<string, Func<IHypervisorDriver, IHypervisorDriver>> Variants = typeof(KitHasTeethTests).Assembly.GetTypes()
        .Where(t => t is { IsClass: true, IsAbstract: false } && t.IsSubclassOf(typeof(DelegatingHypervisorDriver)) && t.Namespace == typeof(KitHasTeethTests).Namespace)
        .ToDictionary(t => t.Name, t => (Func<IHypervisorDriver, IHypervisorDriver>)(d => (IHypervisorDriver)Activator.CreateInstance(t, d)!));

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
    [InlineData(nameof(ImageDisksRefusedAfterCreating), "Create_features_declared_unsupported_throw_operation_not_supported_and_create_nothing")]
    [InlineData(nameof(ImageDisksDeclaredTrueButRefused), "A_disk_from_an_image_is_created_when_the_driver_declares_image_disks")]
    [InlineData(nameof(ImageDisksCreatedBlank), "A_disk_from_an_image_is_created_when_the_driver_declares_image_disks")]
    [InlineData(nameof(SuspendKeepsMemory), "Paused_instances_keep_host_resources_and_suspended_ones_release_them")]
    [InlineData(nameof(WatchIgnoresCancellation), "Cancelling_an_event_watch_ends_the_enumeration")]
    [InlineData(nameof(DeletedNamesStayReserved), "A_deleted_instances_name_can_be_used_again")]
    [InlineData(nameof(CreateComparesOnlySizes), "Create_is_idempotent_for_an_equal_spec_and_refuses_a_change_in_one_field")]
    [InlineData(nameof(CreateComparesByReference), "Create_is_idempotent_for_an_equal_spec_and_refuses_a_change_in_one_field")]
    [InlineData(nameof(StartAfterCreateReturnsStaleInfo), "Creating_with_start_after_create_leaves_it_running")]
    [InlineData(nameof(StartAfterCreateLeavesInstanceWhenStartFails), "Start_and_resume_on_a_full_host_throw_insufficient_resources_and_change_nothing")]
    [InlineData(nameof(SuspendedMemoryReadsZero), "Non_default_sizes_and_metadata_read_back_through_get_and_list_in_every_state")]
    [InlineData(nameof(ListReportsOneVCpu), "Non_default_sizes_and_metadata_read_back_through_get_and_list_in_every_state")]
    [InlineData(nameof(ListShowsSuspendedAsShutdown), "Non_default_sizes_and_metadata_read_back_through_get_and_list_in_every_state")]
    [InlineData(nameof(MetadataValuesTruncated), "Metadata_at_its_limits_round_trips_unchanged")]
    [InlineData(nameof(MetadataKeysTruncated), "Metadata_at_its_limits_round_trips_unchanged")]
    [InlineData(nameof(MetadataEmptyValuesDropped), "Metadata_at_its_limits_round_trips_unchanged")]
    [InlineData(nameof(MetadataCappedAt32Entries), "Metadata_at_its_limits_round_trips_unchanged")]
    [InlineData(nameof(MetadataLeftEscaped), "Metadata_at_its_limits_round_trips_unchanged")]
    [InlineData(nameof(NameClashWithActiveInstanceUnmapped), "A_name_held_by_an_instance_in_any_state_is_refused_and_the_holder_is_untouched")]
    [InlineData(nameof(RepeatedCreateRedefinesInstance), "A_start_among_racing_duplicate_creates_of_one_id_is_not_lost")]
    [InlineData(nameof(InvalidSpecFieldUnqualified), "Invalid_specs_throw_invalid_spec_naming_the_field_and_create_nothing")]
    [InlineData(nameof(NegativeStopTimeoutAccepted), "Invalid_arguments_throw_invalid_spec_and_change_nothing")]
    [InlineData(nameof(DiskUsageFrozen), "Host_usage_follows_an_instance_through_create_each_state_and_delete")]
    [InlineData(nameof(DeleteLeaksDisks), "Host_usage_follows_an_instance_through_create_each_state_and_delete")]
    [InlineData(nameof(DeleteOfRunningLeaksCompute), "Host_usage_follows_an_instance_through_create_each_state_and_delete")]
    [InlineData(nameof(StoppedInstancesCountCompute), "Host_usage_follows_an_instance_through_create_each_state_and_delete")]
    [InlineData(nameof(PausedInstancesNotCounted), "Host_usage_follows_an_instance_through_create_each_state_and_delete")]
    [InlineData(nameof(UsageTakesTheLargestInstance), "Usage_of_two_instances_adds_up_and_deleting_one_leaves_the_others_share")]
    [InlineData(nameof(DetachVolumeDetachesAll), "Detaching_one_of_two_volumes_leaves_the_other")]
    [InlineData(nameof(DetachInterfaceRemovesNewest), "Detaching_one_of_two_interfaces_leaves_the_other")]
    [InlineData(nameof(VolumesShareOneDeviceName), "Detaching_one_of_two_volumes_leaves_the_other")]
    [InlineData(nameof(VolumesListedHostWide), "Devices_attached_to_one_instance_do_not_show_on_another")]
    [InlineData(nameof(DetachVolumeIgnoresOwner), "Devices_attached_to_one_instance_do_not_show_on_another")]
    [InlineData(nameof(AttachedMacNotNormalized), "Attaching_an_interface_makes_it_visible_by_mac_and_detaching_removes_it")]
    [InlineData(nameof(SnapshotsListedHostWide), "Snapshots_of_two_instances_are_kept_apart")]
    [InlineData(nameof(DeleteSnapshotIgnoresOwner), "Snapshots_of_two_instances_are_kept_apart")]
    [InlineData(nameof(SnapshotStateAlwaysShutdown), "A_snapshot_records_the_power_state_it_was_taken_in")]
    [InlineData(nameof(SnapshotsListedNewestFirst), "A_snapshot_is_listed_after_create_and_gone_after_delete")]
    [InlineData(nameof(DeleteRemovesOtherInstancesSnapshots), "Snapshots_of_two_instances_are_kept_apart")]
    [InlineData(nameof(SnapshotsOfUnknownInstanceEmpty), "Every_operation_on_an_unknown_instance_throws_instance_not_found_naming_it")]
    [InlineData(nameof(DetachFromUnknownInstanceAsDeviceNotFound), "Every_operation_on_an_unknown_instance_throws_instance_not_found_naming_it")]
    [InlineData(nameof(NotFoundLosesTheId), "Every_operation_on_an_unknown_instance_throws_instance_not_found_naming_it")]
    [InlineData(nameof(SnapshotOfUnknownInstanceGeneric), "Every_operation_on_an_unknown_instance_throws_instance_not_found_naming_it")]
    [InlineData(nameof(UnknownIdAsInvalidPowerState), "Power_operations_on_an_unknown_instance_throw_instance_not_found")]
    [InlineData(nameof(RefusalReportsWrongState), "Every_illegal_operation_from_a_reachable_state_throws_invalid_power_state_and_changes_nothing")]
    [InlineData(nameof(PowerOffFromPausedRefused), "Every_allowed_operation_from_a_reachable_state_ends_in_its_result_state")]
    [InlineData(nameof(RebootEventsDroppedAsNoChange), "A_reboot_yields_a_started_event_with_running")]
    [InlineData(nameof(ResumeReportedAsResumed), "Suspend_and_resume_events_carry_suspended_then_started_with_running")]
    [InlineData(nameof(UnpauseReportedAsStarted), "Pause_and_unpause_events_carry_paused_and_running")]
    [InlineData(nameof(SuspendReportedAsPaused), "Suspend_and_resume_events_carry_suspended_then_started_with_running")]
    [InlineData(nameof(StopEventsCarryOldState), "Every_transition_yields_its_event_kind_and_state")]
    [InlineData(nameof(DeleteEventsMissing), "Lifecycle_events_arrive_in_order_with_their_power_states")]
    [InlineData(nameof(CrashEventsMissing), "A_crashed_instance_is_reported_crashed_by_get_list_and_events")]
    [InlineData(nameof(EventsPublishedTwice), "Exactly_one_event_per_transition_when_the_fixture_declares_it")]
    [InlineData(nameof(WatchersCompeteForEvents), "Every_subscriber_gets_the_events")]
    [InlineData(nameof(CrashedReportedAsShutdown), "A_crashed_instance_is_reported_crashed_by_get_list_and_events")]
    [InlineData(nameof(StartFromCrashedRefused), "An_operation_allowed_from_crashed_takes_effect")]
    [InlineData(nameof(HardRebootOfCrashedDoesNothing), "An_operation_allowed_from_crashed_takes_effect")]
    [InlineData(nameof(CancellationCheckedOnlyUpFront), "Cancelling_a_call_while_the_peer_works_on_it_leaves_a_consistent_state")]
    [InlineData(nameof(CancellationReportedAsTimeout), "Cancelling_a_call_while_the_peer_works_on_it_leaves_a_consistent_state")]
    [InlineData(nameof(CancelledDeleteStillDeletes), "A_cancelled_delete_throws_and_keeps_the_instance")]
    [InlineData(nameof(FullHostAsGenericError), "Start_and_resume_on_a_full_host_throw_insufficient_resources_and_change_nothing")]
    [InlineData(nameof(FailedResumeDiscardsSavedState), "Start_and_resume_on_a_full_host_throw_insufficient_resources_and_change_nothing")]
    [InlineData(nameof(ConsoleReadsFirstPageOnly), "Console_output_beyond_the_buffer_is_truncated_keeping_the_newest_text")]
    [InlineData(nameof(ConsoleTruncationNotReported), "Console_output_beyond_the_buffer_is_truncated_keeping_the_newest_text")]
    [InlineData(nameof(DisposeForgetsTheConnection), "Disposing_a_driver_ends_every_watch_on_it")]
    [InlineData(nameof(WatchResubscribesForever), "Disposing_a_driver_ends_every_watch_on_it")]
    public async Task The_kit_fails_a_broken_driver(string variant, string expectedFailure)
    {
        var run = await KitRunner.RunAsync(() => new BrokenFixture(Variants[variant]), expectedFailure);
        Assert.True(run.Passed.Count + run.Failed.Count > 0, $"{variant}: no kit test named {expectedFailure} ran. {run.Describe()}");
        Assert.True(run.FailedTest(expectedFailure), $"{variant}: expected {expectedFailure} to fail. {run.Describe()}");
    }

    [Fact]
    public void Every_variant_has_a_case()
    {
        var cases = typeof(KitHasTeethTests).GetMethod(nameof(The_kit_fails_a_broken_driver))!
            .GetCustomAttributes(typeof(InlineDataAttribute), false).Cast<InlineDataAttribute>().Select(a => (string)a.Data[0]!);
        Assert.Equal(Variants.Keys.Order(), cases.Order());
        Assert.True(Variants.Count >= 60, $"Only {Variants.Count} broken variants.");
    }

    /// <summary>A fixture whose driver is a healthy fake wrapped in a broken variant.</summary>
    private sealed class BrokenFixture(Func<IHypervisorDriver, IHypervisorDriver> breakIt) : FakeFixture
    {
        public override TimeSpan EventTimeout => TimeSpan.FromSeconds(1);

        protected override IHypervisorDriver Wrap(FakeHypervisorDriver fake) => breakIt(fake);
    }
}
