using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using Hypervisors.Uml.Mconsole;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hypervisors.Uml;

/// <summary>
/// The User Mode Linux driver: each instance is a <c>linux.uml</c> process (<c>umid</c> = the instance id) supervised
/// by this driver, managed through its mconsole and watched through its notify socket and its exit. Instances live in
/// <see cref="UmlDriverOptions.StateDirectory"/>; a new driver on the same folder finds them again and re-adopts the
/// running ones without touching them. Disposing the driver leaves running guests running.
/// </summary>
public sealed partial class UmlDriver : HypervisorDriverBase
{
    /// <summary>UML 6.1 is built uniprocessor: one vCPU per guest.</summary>
    public const int MaxVCpus = 1;

    /// <summary>The least memory a UML 6.1 guest boots with reliably.</summary>
    public const long MinMemoryMiB = 64;

    private readonly UmlDriverOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<Guid, UmlInstance> _instances = new();
    private readonly KeyedAsyncLock<Guid> _instanceLocks = new();
    private readonly KeyedAsyncLock<string> _createLocks = new(StringComparer.Ordinal, StringComparer.Ordinal);
    private readonly InstanceEventHub _events = new();
    private readonly string _instancesRoot;
    private readonly string _runRoot;
    private readonly Lazy<string> _kernelVersion;

    /// <summary>Creates the driver: checks <paramref name="options"/>, makes the state folders and re-adopts running guests.</summary>
    public UmlDriver(UmlDriverOptions options, ILogger<UmlDriver>? logger = null, TimeProvider? timeProvider = null)
        : base(timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        DriverOptionsRegistration.ThrowIfInvalid<UmlDriverOptions>(nameof(UmlDriverOptions), options.Validate(nameof(UmlDriverOptions)));
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _instancesRoot = Path.Combine(options.StateDirectory, "instances");
        _runRoot = Path.Combine(options.StateDirectory, "run");
        Directory.CreateDirectory(_instancesRoot);
        Directory.CreateDirectory(_runRoot);
        _kernelVersion = new Lazy<string>(() => UmlHostTools.KernelVersion(options.KernelPath));
        var (tapSupported, tapReason) = UmlHostTools.ProbeTapSupport(options);
        InterfaceSupport = tapReason;
        Log.InterfaceSupport(_logger, tapSupported ? "supported" : "unsupported", tapReason);
        Capabilities = new DriverCapabilities
        {
            HypervisorType = "UML",
            SupportsSoftReboot = true,
            SupportsPause = true,
            SupportsSuspend = false,
            SupportsConsoleOutput = true,
            SupportsDeviceListing = true,
            SupportsVolumeAttach = true,
            SupportsInterfaceAttach = tapSupported,
            SupportsSnapshots = true,
            SupportsEvents = true,
            SupportsImageDisks = true,
            SupportsKernelBoot = true,
        };
        LoadInstances();
    }

    /// <inheritdoc />
    public override DriverCapabilities Capabilities { get; }

    /// <summary>Why interfaces are (or are not) supported on this host.</summary>
    public string InterfaceSupport { get; }

    /// <summary>
    /// Sends an mconsole command to a running instance's kernel and returns its answer as the kernel gave it (for
    /// operators: <c>sysrq m</c>, <c>proc meminfo</c>, <c>config ubd0</c>, ...). Commands that change devices
    /// (<c>config dev=...</c>, <c>remove</c>) are refused: they go through the volume and interface calls.
    /// </summary>
    public async Task<MconsoleReply> SendMconsoleCommandAsync(Guid instanceId, string command, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        try
        {
            MconsoleProtocol.ValidateCommand(command);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidSpecException(nameof(command), ex.Message);
        }

        // Devices change only through the attach and detach calls, which keep host paths inside the allowed folders
        // and the record in step; reading a device's configuration is fine.
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words[0] == "remove" || (words[0] == "config" && command.Contains('=', StringComparison.Ordinal)))
        {
            throw new InvalidSpecException(nameof(command), $"'{words[0]}' changes devices; use the volume and interface calls.");
        }

        var instance = Find(instanceId);
        var guest = instance.Guest;
        if (guest is null || guest.HasExited)
        {
            throw new InvalidPowerStateException(instanceId, InstanceOperation.GetConsoleOutput, instance.PowerState);
        }

        try
        {
            return await guest.Mconsole.SendAsync(command, cancellationToken).ConfigureAwait(false);
        }
        catch (MconsoleException ex)
        {
            throw MapException(ex, new OperationContext(InstanceOperation.GetInstance, instanceId));
        }
    }

    /// <summary>The driver's one error-mapping place: mconsole, host tool and host file failures to contract errors.</summary>
    protected override Exception MapException(Exception exception, OperationContext context) => exception switch
    {
        MconsoleException { Failure: MconsoleFailure.Timeout } e => new HypervisorTimeoutException(e.Message, e) { InstanceId = context.InstanceId },
        MconsoleException e => new HypervisorUnavailableException(e.Message, e) { InstanceId = context.InstanceId },
        UmlToolException e => new HypervisorException(e.Message, e) { InstanceId = context.InstanceId, NativeCode = e.ExitCode?.ToString(CultureInfo.InvariantCulture) },
        IOException or UnauthorizedAccessException => new HypervisorException($"A host file operation for {context.Operation} failed: {exception.Message}", exception) { InstanceId = context.InstanceId },
        System.Text.Json.JsonException => new HypervisorException($"An instance record could not be read: {exception.Message}", exception) { InstanceId = context.InstanceId },
        _ => exception,
    };

    /// <inheritdoc />
    protected override Task<HostInfo> GetHostInfoCoreAsync(CancellationToken cancellationToken)
    {
        var (totalMiB, availableMiB) = UmlHostTools.HostMemory();
        var (model, vendor, mhz) = UmlHostTools.HostCpu();
        var drive = new DriveInfo(_options.StateDirectory);
        const long GiB = 1024L * 1024 * 1024;
        var architecture = RuntimeInformation.OSArchitecture switch
        {
            Architecture.X64 => "x86_64",
            Architecture.Arm64 => "aarch64",
            var other => other.ToString().ToLowerInvariant(),
        };
        var running = _instances.Values.Count(i => i.IsRunning);
        return Task.FromResult(new HostInfo
        {
            HypervisorType = Capabilities.HypervisorType,
            HypervisorVersion = _kernelVersion.Value,
            HostName = Environment.MachineName,
            Cpu = new CpuInfo(model, vendor, architecture, 1, Environment.ProcessorCount, 1, mhz),
            VCpusTotal = Environment.ProcessorCount,
            VCpusUsed = running * MaxVCpus,
            MemoryMiBTotal = totalMiB,
            MemoryMiBUsed = Math.Clamp(totalMiB - availableMiB, 0, totalMiB),
            LocalDiskGiBTotal = drive.TotalSize / GiB,
            LocalDiskGiBUsed = (drive.TotalSize - drive.AvailableFreeSpace) / GiB,
            SupportedArchitectures = [architecture],
            Uptime = TimeSpan.FromMilliseconds(Environment.TickCount64),
        });
    }

    /// <inheritdoc />
    protected override Task<IReadOnlyList<InstanceInfo>> ListInstancesCoreAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<InstanceInfo>>(_instances.Values.Where(i => !i.Deleted).Select(Describe).OrderBy(i => i.Name, StringComparer.Ordinal).ToList());

    /// <inheritdoc />
    protected override Task<InstanceInfo> GetInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        Task.FromResult(Describe(Find(instanceId)));

    /// <inheritdoc />
    protected override IAsyncEnumerable<InstanceEvent> WatchEventsCoreAsync(CancellationToken cancellationToken) => _events.SubscribeAsync(cancellationToken);

    /// <inheritdoc />
    protected override Task<ConsoleOutput> GetConsoleOutputCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        UmlHostTools.ReadTailAsync(Find(instanceId).ConsoleLog, _options.ConsoleTailBytes, cancellationToken);

    /// <inheritdoc />
    protected override async ValueTask DisposeAsyncCore()
    {
        // Stop watching; the guests themselves keep running and the next driver re-adopts them.
        foreach (var instance in _instances.Values)
        {
            if (instance.Guest is { } guest)
            {
                await guest.DisposeAsync().ConfigureAwait(false);
            }
        }

        _events.Dispose();
    }

    private static string TapName(Guid id, int index) =>
        "u" + id.ToString("N")[..8] + "v" + index.ToString(CultureInfo.InvariantCulture);

    private string RunDirectory(Guid id) => Path.Combine(_runRoot, id.ToString("D"));

    private string MconsolePath(Guid id) => Path.Combine(RunDirectory(id), "mconsole");

    private UmlInstance Find(Guid instanceId) =>
        _instances.TryGetValue(instanceId, out var instance) && !instance.Deleted ? instance : throw new InstanceNotFoundException(instanceId);

    private InstanceInfo Describe(UmlInstance instance)
    {
        var spec = instance.Record.Spec;
        var guest = instance.Guest;
        return new InstanceInfo(spec.Id, spec.Name, instance.PowerState, spec.VCpus, spec.MemoryMiB, guest is { HasExited: false } ? guest.CpuTime() : TimeSpan.Zero)
        {
            NativeId = "umid=" + spec.Id.ToString("D"),
            Metadata = spec.Metadata,
        };
    }

    private void Publish(Guid id, InstanceEventKind kind, PowerState state) =>
        _events.Publish(new InstanceEvent(id, kind, state, TimeProvider.GetUtcNow()));

    /// <summary>Runs <paramref name="action"/> holding the instance's operation lock.</summary>
    private async Task<T> WithInstanceAsync<T>(Guid instanceId, Func<UmlInstance, Task<T>> action, CancellationToken cancellationToken)
    {
        var instance = Find(instanceId);
        using (await _instanceLocks.AcquireAsync(instanceId, cancellationToken).ConfigureAwait(false))
        {
            if (instance.Deleted)
            {
                throw new InstanceNotFoundException(instanceId);
            }

            return await action(instance).ConfigureAwait(false);
        }
    }

    private Task WithInstanceAsync(Guid instanceId, Func<UmlInstance, Task> action, CancellationToken cancellationToken) =>
        WithInstanceAsync<bool>(instanceId, async i =>
        {
            await action(i).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <summary>Changes and saves the instance's record (when the change changed anything).</summary>
    private async Task UpdateRecordAsync(UmlInstance instance, Func<UmlInstanceRecord, UmlInstanceRecord> change, CancellationToken cancellationToken)
    {
        await instance.RecordGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var updated = change(instance.Record);

            // An unchanged record (a start of an instance neither paused nor crashed, say) costs no file write.
            if (!instance.Deleted && !updated.Equals(instance.Record))
            {
                await UmlRecordStore.SaveAsync(instance.Directory, updated, cancellationToken).ConfigureAwait(false);
            }

            instance.Record = updated;
        }
        finally
        {
            instance.RecordGate.Release();
        }
    }

    private void LoadInstances()
    {
        foreach (var directory in Directory.EnumerateDirectories(_instancesRoot))
        {
            if (!Guid.TryParseExact(Path.GetFileName(directory), "D", out var id))
            {
                continue;
            }

            UmlInstanceRecord? record;
            try
            {
                record = UmlRecordStore.Load(directory);
            }
            catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException or UnauthorizedAccessException)
            {
                Log.SkippedInstanceFolder(_logger, directory, ex.Message);
                continue;
            }

            if (record is null || record.Spec.Id != id)
            {
                Log.SkippedInstanceFolder(_logger, directory, "no instance record for this id");
                continue;
            }

            var instance = new UmlInstance(id, directory, record);
            var guest = UmlGuestProcess.TryAdopt(Path.Combine(RunDirectory(id), "pid"), id.ToString("D"), instance.NotifySocket, MconsolePath(id),
                _options.MconsoleTimeout, _options.ExitPollInterval, OnNotification);
            if (guest is not null)
            {
                instance.Guest = guest;
                WatchExit(instance, guest);
                Log.GuestAdopted(_logger, id, guest.Pid);
            }
            else
            {
                CleanRunDirectory(id);
            }

            _instances[id] = instance;
        }
    }

    private void CleanRunDirectory(Guid id)
    {
        var run = RunDirectory(id);
        if (Directory.Exists(run))
        {
            Directory.Delete(run, recursive: true);
        }
    }
}
