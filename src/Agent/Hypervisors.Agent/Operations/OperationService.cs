using System.Collections.Concurrent;
using Activity = System.Diagnostics.Activity;
using System.Text.Json;
using Hypervisors.Agent.Api;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Configuration;
using Hypervisors.Agent.Events;
using Hypervisors.Agent.Journal;
using Hypervisors.Agent.Telemetry;
using Microsoft.Extensions.Options;

namespace Hypervisors.Agent.Operations;

/// <summary>
/// Accepts mutating calls as operations: journals each one (with its idempotency key) before the driver sees it,
/// runs it in the background (one at a time per instance, a bounded number at a time per driver), records the
/// outcome, and lets callers wait for it. At start it reconciles the operations a crash left unfinished.
/// </summary>
internal sealed class OperationService(
    OperationJournal journal,
    EventLog events,
    DriverStateVersions versions,
    IHypervisorDriverRegistry registry,
    AgentMetrics metrics,
    TimeProvider time,
    IOptions<AgentOptions> options,
    ILogger<OperationService> logger)
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<StoredOperation>> _active = new();
    private readonly TaskCompletionSource _recovered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _abort = new();
    private volatile bool _stopping;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _driverLimits = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Driver, Guid InstanceId), Task> _tails = [];
    private readonly OperationIds _ids = new();

    /// <summary>The driver named <paramref name="name"/>, or <see cref="UnknownDriverException"/>.</summary>
    public IHypervisorDriver GetDriver(string name) =>
        registry.Names.Contains(name) ? registry.Get(name) : throw new UnknownDriverException(name);

    /// <summary>Whether an operation on the instance is queued or running.</summary>
    public bool HasActive(string driver, Guid instanceId)
    {
        lock (_gate)
        {
            return _tails.ContainsKey((driver, instanceId));
        }
    }

    /// <summary>
    /// Creates idempotently on <see cref="InstanceSpec.Id"/>: a repeat with an equal spec returns the operation that
    /// created (or is creating) the instance; a different spec is refused; after a failure, or when the instance
    /// has vanished since, a repeat creates anew.
    /// </summary>
    public async Task<SubmittedOperation> SubmitCreateAsync(string driverName, InstanceSpec spec, CancellationToken cancellationToken)
    {
        var driver = GetDriver(driverName);
        InstanceSpecValidator.Validate(spec);
        var capabilities = driver.Capabilities;
        if ((spec.KernelBoot is not null && !capabilities.SupportsKernelBoot) || (!capabilities.SupportsImageDisks && spec.Disks.Any(d => d.ImageRef is not null)))
        {
            // Refused before anything is journaled, as the driver would refuse it anyway.
            throw new OperationNotSupportedException(capabilities.HypervisorType, InstanceOperation.Create,
                spec.KernelBoot is not null && !capabilities.SupportsKernelBoot ? "direct kernel boot is not supported." : "disks from an image are not supported.");
        }

        // The driver refuses host files outside its allowed directories anyway; refusing here journals nothing.
        driver.GetService<HostPathPolicy>()?.Check(spec);
        await EnsureAcceptingAsync(cancellationToken).ConfigureAwait(false);

        var key = CreateKey(driverName, spec.Id);
        var request = new OperationRequest { Spec = spec };
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var (operation, created) = await BeginOrGetAsync(NewOperation(driverName, spec.Id, OperationKinds.Create, request, key)).ConfigureAwait(false);
            if (created)
            {
                return Accept(operation);
            }

            if (!spec.Equals(operation.Request.Spec))
            {
                throw new InstanceAlreadyExistsException($"Instance {spec.Id} was already requested with a different spec.") { InstanceId = spec.Id };
            }

            if (!operation.IsFinal
                || (operation.State == OperationState.Succeeded && await ExistsAsync(driver, spec.Id, cancellationToken).ConfigureAwait(false)))
            {
                return Existing(operation);
            }

            await journal.ReleaseKeyAsync(operation.Id).ConfigureAwait(false);
        }

        throw new HypervisorUnavailableException($"Instance {spec.Id} is being created and deleted concurrently; retry.");
    }

    /// <summary>Accepts any other operation; a repeated <paramref name="idempotencyKey"/> returns the first operation.</summary>
    public async Task<SubmittedOperation> SubmitAsync(string driverName, Guid instanceId, string kind, OperationRequest request, string? idempotencyKey, CancellationToken cancellationToken = default)
    {
        var driver = GetDriver(driverName);
        InstanceSpecValidator.ValidateInstanceId(instanceId, "id");
        var contractOperation = OperationKinds.ContractOperation(kind, request);
        if (!driver.Capabilities.Supports(contractOperation))
        {
            throw new OperationNotSupportedException(driver.Capabilities.HypervisorType, contractOperation);
        }

        if (idempotencyKey is not null && (idempotencyKey.Length is 0 or > 200 || idempotencyKey.Any(char.IsControl)))
        {
            throw new InvalidSpecException("Idempotency-Key", "must be 1-200 characters without control characters.");
        }

        if (request.Volume is { } volume)
        {
            driver.GetService<HostPathPolicy>()?.CheckReference(volume.Source, "volume.Source");
        }

        await EnsureAcceptingAsync(cancellationToken).ConfigureAwait(false);

        var key = idempotencyKey is null ? null : $"key:{driverName}:{idempotencyKey}";
        var (operation, created) = await BeginOrGetAsync(NewOperation(driverName, instanceId, kind, request, key)).ConfigureAwait(false);
        if (created)
        {
            return Accept(operation);
        }

        if (operation.Kind != kind || operation.InstanceId != instanceId || operation.Request != request)
        {
            // Says nothing about the other request: the key may be another caller's.
            throw new InstanceAlreadyExistsException($"Idempotency-Key '{idempotencyKey}' was already used for a different request.");
        }

        return Existing(operation);
    }

    /// <summary>The operation, after waiting up to <paramref name="wait"/> for it to become final; null when unknown.</summary>
    public async Task<StoredOperation?> WaitAsync(string operationId, TimeSpan wait, CancellationToken cancellationToken)
    {
        if (wait > TimeSpan.Zero && _active.TryGetValue(operationId, out var completion))
        {
            try
            {
                return await completion.Task.WaitAsync(wait, time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Still running: answer with the journaled (pending) state.
            }
        }

        return journal.Get(operationId);
    }

    /// <summary>
    /// Re-drives the operations a crash or a stop left unfinished (new submissions wait until they are queued, so
    /// they run after them); returns how many there were.
    /// </summary>
    public int RecoverUnfinished()
    {
        try
        {
            var unfinished = journal.ListUnfinished();
            foreach (var operation in unfinished)
            {
                _ = Schedule(operation, recovering: true);
            }

            return unfinished.Count;
        }
        finally
        {
            _recovered.TrySetResult();
        }
    }

    /// <summary>One page of the journaled operations.</summary>
    public IReadOnlyList<StoredOperation> List(string? driver, Guid? instanceId, OperationState? state, string? after, int limit) =>
        journal.List(driver, instanceId, state, after, limit);

    /// <summary>
    /// Stops taking new operations, lets those queued or running finish for up to <paramref name="drainTime"/>,
    /// then cancels the rest and journals them as interrupted (the next start reconciles them).
    /// </summary>
    public async Task DrainAsync(TimeSpan drainTime, CancellationToken cancellationToken)
    {
        StopAccepting();
        var running = _active.Values.Select(completion => completion.Task).ToList();
        Log.Draining(logger, running.Count, drainTime);
        try
        {
            await Task.WhenAll(running).WaitAsync(drainTime, time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is TimeoutException or OperationCanceledException)
        {
            // Drain time is over: cut off the rest.
        }

        await _abort.CancelAsync().ConfigureAwait(false);
        var cut = _active.Values.Select(completion => completion.Task).ToList();
        try
        {
            await Task.WhenAll(cut).WaitAsync(TimeSpan.FromSeconds(5), time, CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A driver call that ignores cancellation; its operation stays Pending and is reconciled at the next start.
        }
    }

    /// <summary>From now on, submissions are refused (503, retryable).</summary>
    public void StopAccepting() => _stopping = true;

    private async Task EnsureAcceptingAsync(CancellationToken cancellationToken)
    {
        if (_stopping)
        {
            throw new HypervisorUnavailableException("The agent is stopping and takes no new operations; retry once it is back.");
        }

        if (!journal.IsHealthy)
        {
            throw new JournalUnavailableException(journal.Problem ?? "the journal is not usable");
        }

        await _recovered.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Journals <paramref name="operation"/> unless its key is taken; its completion is registered first.</summary>
    private async Task<(StoredOperation Operation, bool Created)> BeginOrGetAsync(StoredOperation operation)
    {
        _active[operation.Id] = new TaskCompletionSource<StoredOperation>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            var result = await journal.BeginOrGetAsync(operation).ConfigureAwait(false);
            if (!result.Created)
            {
                _active.TryRemove(operation.Id, out _);
            }

            return result;
        }
        catch
        {
            _active.TryRemove(operation.Id, out _);
            throw;
        }
    }

    private static string CreateKey(string driver, Guid instanceId) => $"create:{driver}:{instanceId:D}";

    private static async Task<bool> ExistsAsync(IHypervisorDriver driver, Guid instanceId, CancellationToken cancellationToken)
    {
        try
        {
            await driver.GetInstanceAsync(instanceId, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (InstanceNotFoundException)
        {
            return false;
        }
    }

    private StoredOperation NewOperation(string driver, Guid instanceId, string kind, OperationRequest request, string? key)
    {
        var now = time.GetUtcNow();
        return new StoredOperation(_ids.Next(now), key, driver, instanceId, kind, request, OperationState.Pending, null, null, now, now);
    }

    private SubmittedOperation Accept(StoredOperation operation)
    {
        Log.OperationAccepted(logger, operation.Id, operation.Kind, operation.InstanceId, operation.Driver);
        return new SubmittedOperation(operation, Schedule(operation, recovering: false));
    }

    /// <summary>
    /// A repeat of a journaled operation, with a completion a <c>?wait=</c> can wait on: the running one's, or its
    /// final state. The first request registers its completion before it journals, so a concurrent duplicate finds it.
    /// </summary>
    private SubmittedOperation Existing(StoredOperation operation)
    {
        if (operation.IsFinal)
        {
            return new(operation, Task.FromResult(operation));
        }

        if (_active.TryGetValue(operation.Id, out var running))
        {
            return new(operation, running.Task);
        }

        // Finished between the journal read and now: the journal has its final state.
        var current = journal.Get(operation.Id) ?? operation;
        return new(current, Task.FromResult(current));
    }

    private Task<StoredOperation> Schedule(StoredOperation operation, bool recovering)
    {
        var completion = _active.GetOrAdd(operation.Id, _ => new TaskCompletionSource<StoredOperation>(TaskCreationOptions.RunContinuationsAsynchronously));
        var key = (operation.Driver, operation.InstanceId);
        var turn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task previous;
        lock (_gate)
        {
            previous = _tails.GetValueOrDefault(key) ?? Task.CompletedTask;
            _tails[key] = turn.Task;
        }

        _ = RunAfterAsync(previous, operation, recovering, completion, turn, key);
        return completion.Task;
    }

    private async Task RunAfterAsync(Task previous, StoredOperation operation, bool recovering, TaskCompletionSource<StoredOperation> completion,
        TaskCompletionSource turn, (string, Guid) key)
    {
        await previous.ConfigureAwait(false);
        var stopping = _abort.Token;
        var final = operation;
        var limit = _driverLimits.GetOrAdd(operation.Driver, _ => new SemaphoreSlim(Math.Max(1, options.Value.MaxConcurrentOperationsPerDriver)));
        using var activity = AgentTelemetry.Source.StartActivity("operation " + operation.Kind);
        activity?.SetTag("hypervisors.operation_id", operation.Id);
        try
        {
            await limit.WaitAsync(stopping).ConfigureAwait(false);
            try
            {
                final = await ExecuteAsync(operation, recovering, stopping).ConfigureAwait(false);
            }
            finally
            {
                limit.Release();
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            Log.OperationInterrupted(logger, operation.Id);
            try
            {
                await journal.MarkInterruptedAsync(operation.Id, time.GetUtcNow()).ConfigureAwait(false);
                final = operation with { State = OperationState.Interrupted, UpdatedAt = time.GetUtcNow() };
            }
            catch (Exception exception) when (exception is HypervisorException or ObjectDisposedException)
            {
                // Left Pending: reconciled at the next start all the same.
            }
        }
        catch (Exception exception)
        {
            // The journal itself failed; the operation stays pending and is reconciled at the next start.
            Log.OperationCrashed(logger, operation.Id, operation.Kind, operation.InstanceId, operation.Driver, exception);
        }
        finally
        {
            completion.TrySetResult(final);
            _active.TryRemove(operation.Id, out _);
            lock (_gate)
            {
                if (_tails.TryGetValue(key, out var tail) && tail == turn.Task)
                {
                    _tails.Remove(key);
                }
            }

            turn.TrySetResult();
        }
    }

    private async Task<StoredOperation> ExecuteAsync(StoredOperation operation, bool recovering, CancellationToken cancellationToken)
    {
        if (!registry.Names.Contains(operation.Driver))
        {
            return await FinishAsync(operation, null, null, new UnknownDriverException(operation.Driver)).ConfigureAwait(false);
        }

        var driver = registry.Get(operation.Driver);
        try
        {
            if (recovering)
            {
                var (done, existingResult) = await OperationKinds.CheckDoneAsync(driver, operation, cancellationToken).ConfigureAwait(false);
                Log.OperationReconciled(logger, operation.Id, operation.Kind, operation.InstanceId, operation.Driver, done ? "already done on the hypervisor" : "driving it again");
                if (done)
                {
                    return await FinishAsync(operation, driver, existingResult, null).ConfigureAwait(false);
                }
            }

            var result = await OperationKinds.ExecuteAsync(driver, operation, cancellationToken).ConfigureAwait(false);
            return await FinishAsync(operation, driver, result, null).ConfigureAwait(false);
        }
        catch (InvalidPowerStateException refused) when (recovering
            && refused.CurrentState == PowerStateRules.ResultOf(OperationKinds.ContractOperation(operation.Kind, operation.Request)))
        {
            // The first run's call was still taking effect when it was read back (a guest shutting down, say): the
            // instance has since reached the state this operation asked for, so it is done, not refused.
            Log.OperationReconciled(logger, operation.Id, operation.Kind, operation.InstanceId, operation.Driver, "already done on the hypervisor");
            return await FinishAsync(operation, driver, null, null).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            if (exception is not HypervisorException)
            {
                Log.OperationCrashed(logger, operation.Id, operation.Kind, operation.InstanceId, operation.Driver, exception);
            }

            return await FinishAsync(operation, driver, null, exception).ConfigureAwait(false);
        }
    }

    private async Task<StoredOperation> FinishAsync(StoredOperation operation, IHypervisorDriver? driver, object? result, Exception? failure)
    {
        var now = time.GetUtcNow();
        StoredOperation final;
        if (failure is null)
        {
            var resultJson = result is null ? null : JsonSerializer.Serialize(result, result.GetType(), AgentJson.Options);
            final = await journal.CompleteAsync(operation, OperationState.Succeeded, resultJson, null, now, releaseKey: false,
                alsoReleaseKey: operation.Kind == OperationKinds.Delete ? CreateKey(operation.Driver, operation.InstanceId) : null).ConfigureAwait(false);
            if (driver is not null && !driver.Capabilities.SupportsEvents && OperationKinds.EventAfter(operation, result) is { } happened)
            {
                await events.RecordAsync(operation.Driver, operation.InstanceId, happened.Kind, happened.State, "agent", now).ConfigureAwait(false);
            }

            Log.OperationSucceeded(logger, operation.Id, operation.Kind, operation.InstanceId, operation.Driver);
        }
        else
        {
            var problem = failure is UnknownDriverException
                ? new AgentProblem { Type = Problems.TypeUri("driver-not-found"), Title = "Driver not found", Status = 404, Detail = failure.Message, Kind = HypervisorErrorKind.NotFound }
                : Problems.FromException(failure, null);
            final = await journal.CompleteAsync(operation, OperationState.Failed, null, problem, now, releaseKey: false).ConfigureAwait(false);
            Log.OperationFailed(logger, operation.Id, operation.Kind, operation.InstanceId, operation.Driver, problem.Kind, problem.Detail);
        }

        versions.Bump(operation.Driver);
        metrics.Operations.Add(1, new("driver", operation.Driver), new("kind", operation.Kind), new("state", final.State.ToString()));
        Activity.Current?.SetTag("hypervisors.operation_state", final.State.ToString());
        return final;
    }
}

/// <summary>
/// Operation ids: UUIDv7 text (RFC 9562) that sorts in the order the operations were accepted, as the operation list
/// pages by id. <see cref="Guid.CreateVersion7(DateTimeOffset)"/> fills everything after the millisecond with random bits,
/// so two operations of one millisecond could list in either order; here the 12 bits after the timestamp count
/// within the millisecond (RFC 9562 section 6.2, method 1), and the clock never goes back.
/// </summary>
internal sealed class OperationIds
{
    private readonly Lock _gate = new();
    private long _lastMilliseconds;
    private int _sequence;

    public string Next(DateTimeOffset now)
    {
        long milliseconds;
        int sequence;
        lock (_gate)
        {
            milliseconds = now.ToUnixTimeMilliseconds();
            if (milliseconds <= _lastMilliseconds)
            {
                milliseconds = _lastMilliseconds;
                if (++_sequence > 0xFFF)
                {
                    milliseconds++;
                    _sequence = 0;
                }
            }
            else
            {
                _sequence = 0;
            }

            _lastMilliseconds = milliseconds;
            sequence = _sequence;
        }

        Span<byte> bytes = stackalloc byte[16];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes[8..]);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(bytes, milliseconds << 16);
        bytes[6] = (byte)(0x70 | (sequence >> 8));
        bytes[7] = (byte)sequence;
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
        return Convert.ToHexStringLower(bytes);
    }
}

/// <summary>An accepted (or repeated) operation and a task that completes with its final state.</summary>
internal sealed record SubmittedOperation(StoredOperation Operation, Task<StoredOperation> Completion);
