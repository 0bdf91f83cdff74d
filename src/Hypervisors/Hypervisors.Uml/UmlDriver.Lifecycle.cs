using System.Globalization;
using Hypervisors.Uml.Mconsole;

namespace Hypervisors.Uml;

public sealed partial class UmlDriver
{
    /// <inheritdoc />
    protected override async Task<InstanceInfo> CreateInstanceCoreAsync(InstanceSpec spec, CancellationToken cancellationToken)
    {
        UmlInstance instance;

        // The id and the name, locked in a fixed order: racing creates of one id or one name run one at a time.
        using (await _createLocks.AcquireAsync(["id:" + spec.Id.ToString("D"), "name:" + spec.Name], cancellationToken).ConfigureAwait(false))
        {
            if (_instances.TryGetValue(spec.Id, out var existing) && !existing.Deleted)
            {
                if (existing.Record.Spec.Equals(spec))
                {
                    return Describe(existing);
                }

                throw new InstanceAlreadyExistsException($"Instance {spec.Id} exists with another spec.") { InstanceId = spec.Id };
            }

            if (_instances.Values.Any(i => !i.Deleted && string.Equals(i.Record.Spec.Name, spec.Name, StringComparison.Ordinal)))
            {
                throw new InstanceAlreadyExistsException($"Another instance is named '{spec.Name}'.") { InstanceId = spec.Id };
            }

            // After the id check: the same id with another spec is a conflict whatever else is wrong with it.
            var (disks, interfaces) = CheckSpec(spec);
            var directory = Path.Combine(_instancesRoot, spec.Id.ToString("D"));
            try
            {
                Directory.CreateDirectory(directory);
                var made = new List<UmlDisk>();
                for (var index = 0; index < disks.Count; index++)
                {
                    var (disk, image) = disks[index];
                    if (image is null)
                    {
                        var file = Path.Combine(directory, DiskFileName(index, ".img"));
                        var stream = new FileStream(file, FileMode.CreateNew, FileAccess.Write);
                        await using (stream.ConfigureAwait(false))
                        {
                            stream.SetLength(disk.SizeGiB * 1024L * 1024 * 1024);
                        }

                        made.Add(new UmlDisk(index, disk.SizeGiB, null, null, file));
                    }
                    else
                    {
                        // The kernel makes the COW file over the image at first boot.
                        made.Add(new UmlDisk(index, disk.SizeGiB, disk.ImageRef, image, Path.Combine(directory, DiskFileName(index, ".cow"))));
                    }
                }

                var record = new UmlInstanceRecord { Spec = spec, Disks = made, Interfaces = interfaces };
                await UmlRecordStore.SaveAsync(directory, record, cancellationToken).ConfigureAwait(false);
                instance = new UmlInstance(spec.Id, directory, record);
                _instances[spec.Id] = instance;
            }
            catch
            {
                if (Directory.Exists(directory))
                {
                    Directory.Delete(directory, recursive: true);
                }

                throw;
            }
        }

        Publish(spec.Id, InstanceEventKind.Created, PowerState.Shutdown);
        if (spec.StartAfterCreate)
        {
            await WithInstanceAsync(spec.Id, i => StartGuestAsync(i, cancellationToken), cancellationToken).ConfigureAwait(false);
        }

        return Describe(instance);
    }

    /// <inheritdoc />
    protected override Task StartInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        WithInstanceAsync(instanceId, instance =>
        {
            PowerStateRules.EnsureAllowed(InstanceOperation.Start, instanceId, instance.PowerState);
            return StartGuestAsync(instance, cancellationToken);
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task PowerOffInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        WithInstanceAsync(instanceId, async instance =>
        {
            PowerStateRules.EnsureAllowed(InstanceOperation.PowerOff, instanceId, instance.PowerState);
            await PowerOffGuestAsync(instance, cancellationToken).ConfigureAwait(false);
            await ClearCrashAsync(instance, cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>
    /// Graceful stop: sends Ctrl-Alt-Del through the mconsole (<c>cad</c>), which the guest's init turns into a clean
    /// shutdown. A guest whose init reboots on Ctrl-Alt-Del (Debian's default inittab) is halted as soon as its kernel
    /// comes back; one that halts just ends. Whatever still runs when the timeout passes is powered off.
    /// </summary>
    protected override Task StopInstanceCoreAsync(Guid instanceId, TimeSpan gracefulTimeout, CancellationToken cancellationToken) =>
        WithInstanceAsync(instanceId, async instance =>
        {
            PowerStateRules.EnsureAllowed(InstanceOperation.Stop, instanceId, instance.PowerState);
            if (instance.Guest is { HasExited: false } guest && gracefulTimeout > TimeSpan.Zero)
            {
                guest.ExitExpected = true;
                guest.HaltOnNextBoot = true;
                if (instance.Record.Paused)
                {
                    await SendCheckedAsync(instance, guest, "go", cancellationToken).ConfigureAwait(false);
                    await UpdateRecordAsync(instance, r => r with { Paused = false }, cancellationToken).ConfigureAwait(false);
                }

                await SendCheckedAsync(instance, guest, "cad", cancellationToken).ConfigureAwait(false);
                if (await guest.WaitForExitAsync(gracefulTimeout, cancellationToken).ConfigureAwait(false))
                {
                    await instance.ExitHandled.ConfigureAwait(false);
                }
            }

            await PowerOffGuestAsync(instance, cancellationToken).ConfigureAwait(false);
            await ClearCrashAsync(instance, cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>
    /// Soft reboot sends Ctrl-Alt-Del (<c>cad</c>): a guest that reboots comes back in the same process; one whose
    /// init halts instead is started again. Hard reboot is the kernel's own <c>reboot</c>.
    /// </summary>
    protected override Task RebootInstanceCoreAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken) =>
        WithInstanceAsync(instanceId, async instance =>
        {
            var operation = kind == RebootKind.Soft ? InstanceOperation.SoftReboot : InstanceOperation.HardReboot;
            PowerStateRules.EnsureAllowed(operation, instanceId, instance.PowerState);
            if (instance.Guest is not { HasExited: false } guest)
            {
                // Crashed: nothing runs, so a hard reboot is a start.
                await StartGuestAsync(instance, cancellationToken).ConfigureAwait(false);
                return;
            }

            var boots = guest.BootCount;
            guest.ExitExpected = true;
            var request = guest.Mconsole.SendAsync(kind == RebootKind.Soft ? "cad" : "reboot", cancellationToken);

            // The kernel may re-execute before its answer leaves; the new boot is what counts.
            var booted = await guest.WaitForBootAsync(boots, _options.BootTimeout, cancellationToken).ConfigureAwait(false)
                && await WaitForBlockDevicesAsync(instance, guest, cancellationToken).ConfigureAwait(false);
            await ObserveAsync(request).ConfigureAwait(false);
            if (!booted)
            {
                await instance.ExitHandled.ConfigureAwait(false);
                await StartGuestAsync(instance, cancellationToken).ConfigureAwait(false);
                return;
            }

            guest.ExitExpected = false;
            await UpdateRecordAsync(instance, r => r with { Paused = false }, cancellationToken).ConfigureAwait(false);
            Publish(instanceId, InstanceEventKind.Started, PowerState.Running);
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task PauseInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        SetPausedAsync(instanceId, InstanceOperation.Pause, "stop", paused: true, InstanceEventKind.Paused, PowerState.Paused, cancellationToken);

    /// <inheritdoc />
    protected override Task UnpauseInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        SetPausedAsync(instanceId, InstanceOperation.Unpause, "go", paused: false, InstanceEventKind.Resumed, PowerState.Running, cancellationToken);

    /// <summary>Pause and unpause: the mconsole command that stops or resumes the guest's kernel, then the record and the event.</summary>
    private Task SetPausedAsync(
        Guid instanceId, InstanceOperation operation, string mconsoleCommand, bool paused, InstanceEventKind eventKind, PowerState stateAfter, CancellationToken cancellationToken) =>
        WithInstanceAsync(instanceId, async instance =>
        {
            PowerStateRules.EnsureAllowed(operation, instanceId, instance.PowerState);
            await SendCheckedAsync(instance, instance.Guest!, mconsoleCommand, cancellationToken).ConfigureAwait(false);
            await UpdateRecordAsync(instance, r => r with { Paused = paused }, cancellationToken).ConfigureAwait(false);
            Publish(instanceId, eventKind, stateAfter);
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task DeleteInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        WithInstanceAsync(instanceId, async instance =>
        {
            await PowerOffGuestAsync(instance, cancellationToken).ConfigureAwait(false);
            if (Capabilities.SupportsInterfaceAttach)
            {
                foreach (var nic in instance.Record.Interfaces)
                {
                    await UmlHostTools.DeleteTapAsync(_options, nic.Tap, cancellationToken).ConfigureAwait(false);
                }
            }

            instance.Deleted = true;
            _instances.TryRemove(instanceId, out _);
            CleanRunDirectory(instanceId);
            if (Directory.Exists(instance.Directory))
            {
                Directory.Delete(instance.Directory, recursive: true);
            }

            Publish(instanceId, InstanceEventKind.Deleted, PowerState.NoState);
        }, cancellationToken);

    private static string DiskFileName(int index, string extension) => "disk" + index.ToString(CultureInfo.InvariantCulture) + extension;

    private static async Task ObserveAsync(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (MconsoleException)
        {
            // The kernel went away before it answered; the caller checks the outcome another way.
        }
    }

    /// <summary>Checks what only this driver refuses, before anything is made; returns the disks' images and the interfaces.</summary>
    private (List<(DiskSpec Disk, string? Image)> Disks, List<UmlInterface> Interfaces) CheckSpec(InstanceSpec spec)
    {
        if (spec.VCpus > MaxVCpus)
        {
            throw new InvalidSpecException("spec.VCpus", $"User Mode Linux 6.1 runs one vCPU per guest; at most {MaxVCpus}, was {spec.VCpus}.");
        }

        if (spec.MemoryMiB < MinMemoryMiB)
        {
            throw new InvalidSpecException("spec.MemoryMiB", $"a UML guest needs at least {MinMemoryMiB} MiB, was {spec.MemoryMiB}.");
        }

        if (spec.Disks.Count + 1 > UmlDevices.MaxUbd)
        {
            throw new InvalidSpecException("spec.Disks", $"at most {UmlDevices.MaxUbd - 1} disks (the kernel has {UmlDevices.MaxUbd} ubd units), was {spec.Disks.Count}.");
        }

        if (spec.KernelBoot is { } boot)
        {
            if (!string.Equals(boot.KernelPath, _options.KernelPath, StringComparison.Ordinal))
            {
                UmlPaths.RequireAllowed(boot.KernelPath, _options.AllowedImageDirectories, "spec.KernelBoot.KernelPath");
            }

            if (boot.InitrdPath is not null)
            {
                RequireSimplePath(UmlPaths.RequireAllowed(boot.InitrdPath, _options.AllowedImageDirectories, "spec.KernelBoot.InitrdPath"), "spec.KernelBoot.InitrdPath");
            }

            UmlBootArguments.ParseCommandLine(boot.CommandLine, _options.AllowedImageDirectories);
        }

        var disks = new List<(DiskSpec, string?)>();
        for (var index = 0; index < spec.Disks.Count; index++)
        {
            var disk = spec.Disks[index];
            var field = $"spec.Disks[{index.ToString(CultureInfo.InvariantCulture)}].ImageRef";
            var image = disk.ImageRef is null ? null : RequireSimplePath(UmlPaths.RequireAllowed(disk.ImageRef, _options.AllowedImageDirectories, field), field);
            disks.Add((disk, image));
        }

        if (spec.NetworkInterfaces.Count > 0 && !Capabilities.SupportsInterfaceAttach)
        {
            throw NotSupported(InstanceOperation.Create, "network interfaces are unsupported on this host: " + InterfaceSupport + ".");
        }

        var interfaces = new List<UmlInterface>();
        for (var index = 0; index < spec.NetworkInterfaces.Count; index++)
        {
            var nic = spec.NetworkInterfaces[index];
            var field = $"spec.NetworkInterfaces[{index.ToString(CultureInfo.InvariantCulture)}]";
            RequireNetwork(nic.Network, field + ".Network");
            var mac = nic.MacAddress is null ? NewMacAddress() : InstanceSpecValidator.NormalizeMac(nic.MacAddress);
            if (interfaces.Any(n => n.MacAddress == mac))
            {
                throw new InvalidSpecException(field + ".MacAddress", $"'{mac}' is used twice.");
            }

            interfaces.Add(new UmlInterface(mac, nic.Network, index, TapName(spec.Id, index)));
        }

        return (disks, interfaces);
    }

    private void RequireNetwork(string network, string field)
    {
        if (!_options.Networks.ContainsKey(network))
        {
            throw new InvalidSpecException(field, $"'{network}' is not a configured network ({string.Join(", ", _options.Networks.Keys)}).");
        }
    }

    /// <summary>ubd arguments separate files with commas, so a path holding one cannot be passed.</summary>
    private static string RequireSimplePath(string path, string field) =>
        path.Any(c => c == ',' || char.IsWhiteSpace(c))
            ? throw new InvalidSpecException(field, $"'{path}' holds a comma or white space, which kernel device arguments cannot carry.")
            : path;

    private static string NewMacAddress()
    {
        Span<byte> bytes = stackalloc byte[6];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        bytes[0] = 0x52;
        bytes[1] = 0x54;
        bytes[2] = 0x00;
        return string.Join(':', bytes.ToArray().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
    }

    /// <summary>Boots the instance's kernel and waits until it serves its mconsole.</summary>
    private async Task StartGuestAsync(UmlInstance instance, CancellationToken cancellationToken)
    {
        var record = instance.Record;
        if (Capabilities.SupportsInterfaceAttach)
        {
            foreach (var nic in record.Interfaces)
            {
                await UmlHostTools.CreateTapAsync(_options, nic.Tap, _options.Networks[nic.Network], cancellationToken).ConfigureAwait(false);
            }
        }

        Directory.CreateDirectory(instance.EmptyHostfsRoot);
        var arguments = UmlBootArguments.Build(record, _options, _runRoot, instance.NotifySocket, instance.EmptyHostfsRoot);
        CleanRunDirectory(instance.Id);
        await UpdateRecordAsync(instance, r => r with { Paused = false, Crashed = false }, cancellationToken).ConfigureAwait(false);
        var guest = UmlGuestProcess.Start(record.Spec.KernelBoot?.KernelPath ?? _options.KernelPath, arguments, instance.ConsoleLog, instance.NotifySocket,
            MconsolePath(instance.Id), _options.MconsoleTimeout, _options.ExitPollInterval, OnNotification);
        instance.Guest = guest;
        WatchExit(instance, guest);
        bool booted;
        try
        {
            booted = await guest.WaitForBootAsync(0, _options.BootTimeout, cancellationToken).ConfigureAwait(false)
                && await WaitForBlockDevicesAsync(instance, guest, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HypervisorTimeoutException or OperationCanceledException)
        {
            guest.ExitExpected = true;
            guest.Kill();
            await guest.WaitForExitAsync(_options.HaltTimeout, CancellationToken.None).ConfigureAwait(false);
            await instance.ExitHandled.ConfigureAwait(false);
            throw;
        }

        if (!booted)
        {
            await instance.ExitHandled.ConfigureAwait(false);
            var console = await UmlHostTools.ReadTailAsync(instance.ConsoleLog, 2048, CancellationToken.None).ConfigureAwait(false);
            throw new HypervisorException($"The UML kernel of instance {instance.Id} exited while booting. Console tail:\n{console.Text}") { InstanceId = instance.Id };
        }

        Log.GuestStarted(_logger, instance.Id, guest.Pid);
        Publish(instance.Id, InstanceEventKind.Started, PowerState.Running);
    }

    /// <summary>
    /// Waits until the booting kernel's ubd driver has registered the block devices the instance boots with; false
    /// when the kernel exits first. The kernel announces its mconsole before its late init calls run, and a ubd
    /// hot-plug (mconsole <c>config</c>) that lands before the ubd driver's own init is registered twice, which panics
    /// the kernel when the device is removed (seen with Debian's linux.uml 6.1). So an instance counts as running only
    /// once <c>/proc/devices</c> lists the ubd major and <c>/proc/partitions</c> every boot disk and volume.
    /// </summary>
    private async Task<bool> WaitForBlockDevicesAsync(UmlInstance instance, UmlGuestProcess guest, CancellationToken cancellationToken)
    {
        var expected = instance.Record.Disks.Select(d => d.Device).Concat(instance.Record.Volumes.Select(v => v.Device)).ToList();
        var deadline = TimeProvider.GetUtcNow() + _options.BootTimeout;
        var delay = TimeSpan.FromMilliseconds(50);
        var driverRegistered = false;
        while (true)
        {
            try
            {
                // /proc/devices until the ubd driver is there, then /proc/partitions until every disk is: one request
                // per round, not both every round.
                if (!driverRegistered)
                {
                    var devices = await guest.Mconsole.SendAsync("proc devices", cancellationToken).ConfigureAwait(false);
                    driverRegistered = !devices.IsError && LastWords(devices.Text).Contains("ubd");
                }

                if (driverRegistered)
                {
                    var partitions = await guest.Mconsole.SendAsync("proc partitions", cancellationToken).ConfigureAwait(false);
                    if (!partitions.IsError && expected.All(LastWords(partitions.Text).Contains))
                    {
                        return true;
                    }
                }
            }
            catch (MconsoleException) when (guest.HasExited)
            {
                return false;
            }
            catch (MconsoleException ex) when (ex.Failure == MconsoleFailure.Timeout && TimeProvider.GetUtcNow() <= deadline)
            {
                // A kernel still booting on a loaded host may answer late: ask again until the boot deadline.
            }

            if (guest.HasExited)
            {
                return false;
            }

            if (TimeProvider.GetUtcNow() > deadline)
            {
                throw new HypervisorTimeoutException($"The UML kernel of instance {instance.Id} did not register its block devices within {_options.BootTimeout}.") { InstanceId = instance.Id };
            }

            // Back-off from 50 ms to 200 ms: a late registration costs a few requests, not one every 50 ms.
            await Task.Delay(delay, TimeProvider, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromMilliseconds(200).Ticks));
        }

        static HashSet<string> LastWords(string text) =>
            text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1])
                .ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Halts the kernel through the mconsole; kills its process group if it does not end in time.</summary>
    private async Task PowerOffGuestAsync(UmlInstance instance, CancellationToken cancellationToken)
    {
        if (instance.Guest is not { HasExited: false } guest)
        {
            return;
        }

        guest.ExitExpected = true;
        var request = guest.Mconsole.SendAsync("halt", cancellationToken);
        await Task.WhenAny(request, guest.Exited).ConfigureAwait(false);
        if (!await guest.WaitForExitAsync(_options.HaltTimeout, cancellationToken).ConfigureAwait(false))
        {
            Log.GuestKilled(_logger, instance.Id, _options.HaltTimeout, guest.Pid);
            guest.Kill();
            if (!await guest.WaitForExitAsync(_options.HaltTimeout, cancellationToken).ConfigureAwait(false))
            {
                throw new HypervisorTimeoutException($"The UML kernel of instance {instance.Id} (pid {guest.Pid}) survived SIGKILL.") { InstanceId = instance.Id };
            }
        }

        await ObserveAsync(request).ConfigureAwait(false);
        await instance.ExitHandled.ConfigureAwait(false);
    }

    private async Task ClearCrashAsync(UmlInstance instance, CancellationToken cancellationToken)
    {
        if (instance.Record.Crashed)
        {
            await UpdateRecordAsync(instance, r => r with { Crashed = false }, cancellationToken).ConfigureAwait(false);
            Publish(instance.Id, InstanceEventKind.Stopped, PowerState.Shutdown);
        }
    }

    /// <summary>Sends a command that must succeed; an error answer becomes a <see cref="HypervisorException"/>.</summary>
    private static async Task<MconsoleReply> SendCheckedAsync(UmlInstance instance, UmlGuestProcess guest, string command, CancellationToken cancellationToken)
    {
        var reply = await guest.Mconsole.SendAsync(command, cancellationToken).ConfigureAwait(false);
        if (reply.IsError)
        {
            throw new HypervisorException($"The UML kernel of instance {instance.Id} refused '{command}': {reply.Text}") { InstanceId = instance.Id, NativeCode = reply.Text };
        }

        return reply;
    }

    /// <summary>Records the guest's end (shut down, or crashed when it panicked or exited unasked with an error) once it exits.</summary>
    private void WatchExit(UmlInstance instance, UmlGuestProcess guest)
    {
        instance.ExitHandled = HandleExitAsync(instance, guest);
    }

    private async Task HandleExitAsync(UmlInstance instance, UmlGuestProcess guest)
    {
        var exitCode = await guest.Exited.ConfigureAwait(false);
        var crashed = guest.PanicReported || (!guest.ExitExpected && exitCode is not null and not 0);
        Log.GuestExited(_logger, instance.Id, exitCode, crashed);
        if (!ReferenceEquals(instance.Guest, guest))
        {
            return;
        }

        try
        {
            await UpdateRecordAsync(instance, r => r with { Paused = false, Crashed = crashed }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            Log.RecordSaveFailed(_logger, instance.Id, ex);
        }

        try
        {
            CleanRunDirectory(instance.Id);
        }
        catch (IOException)
        {
            // A new boot may be making it; it is cleaned before each start anyway.
        }

        await guest.DisposeAsync().ConfigureAwait(false);
        Publish(instance.Id, crashed ? InstanceEventKind.Crashed : InstanceEventKind.Stopped, crashed ? PowerState.Crashed : PowerState.Shutdown);
    }

    private void OnNotification(UmlGuestProcess guest, MconsoleNotification notification)
    {
        var instance = _instances.Values.FirstOrDefault(i => ReferenceEquals(i.Guest, guest));
        if (instance is null)
        {
            return;
        }

        Log.GuestNotification(_logger, instance.Id, notification.Type.ToString(), notification.Text);
        if (notification.Type == MconsoleNotificationType.Panic)
        {
            Log.GuestPanicked(_logger, instance.Id, notification.Text);
        }
        else if (notification.Type == MconsoleNotificationType.Socket && guest.HaltOnNextBoot)
        {
            // A graceful stop asked the guest to shut down and its init rebooted: halt the new boot.
            Log.HaltingRebootedGuest(_logger, instance.Id);
            _ = ObserveAsync(guest.Mconsole.SendAsync("halt"));
        }
    }
}
