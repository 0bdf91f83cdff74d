namespace Hypervisors.Conformance;

/// <summary>Assertions the suites share, with messages that say which part of the contract was broken.</summary>
public static class KitAssert
{
    /// <summary>Asserts the instance is in <paramref name="expected"/> now, as both get and list report it.</summary>
    public static async Task PowerStateIsAsync(IHypervisorDriver driver, Guid instanceId, PowerState expected, string after, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(driver);
        var info = await driver.GetInstanceAsync(instanceId, cancellationToken);
        Assert.True(info.PowerState == expected, $"After {after}, GetInstanceAsync reported {info.PowerState}; expected {expected}.");
        var listed = (await driver.ListInstancesAsync(cancellationToken)).Where(i => i.Id == instanceId).ToList();
        Assert.True(listed.Count == 1, $"After {after}, ListInstancesAsync showed the instance {listed.Count} times; expected once.");
        Assert.True(listed[0].PowerState == expected, $"After {after}, ListInstancesAsync reported {listed[0].PowerState}; expected {expected}.");
    }

    /// <summary>Asserts <paramref name="action"/> throws exactly <typeparamref name="TException"/> and returns it.</summary>
    public static async Task<TException> ThrowsAsync<TException>(Func<Task> action, string what)
        where TException : Exception
    {
        ArgumentNullException.ThrowIfNull(action);
        Exception? thrown = null;
        try
        {
            await action();
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.SkipException)
        {
            thrown = ex;
        }

        if (thrown is TException expected)
        {
            return expected;
        }

        Assert.Fail(thrown is null
            ? $"{what}: expected {typeof(TException).Name}, but the call succeeded."
            : $"{what}: expected {typeof(TException).Name}, but got {thrown.GetType().Name}: {thrown.Message}");
        throw new System.Diagnostics.UnreachableException();
    }

    /// <summary>Asserts <paramref name="action"/> throws <see cref="OperationCanceledException"/> (or a subclass).</summary>
    public static async Task CanceledAsync(Func<Task> action, string what)
    {
        ArgumentNullException.ThrowIfNull(action);
        try
        {
            await action();
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.SkipException)
        {
            Assert.Fail($"{what} with a cancelled token: expected OperationCanceledException, but got {ex.GetType().Name}: {ex.Message}");
        }

        Assert.Fail($"{what} with a cancelled token: expected OperationCanceledException, but the call succeeded.");
    }

    /// <summary>Asserts the operation is refused as not supported.</summary>
    public static async Task NotSupportedAsync(Func<Task> action, string capability, InstanceOperation operation)
    {
        var ex = await ThrowsAsync<OperationNotSupportedException>(action, $"{operation} while {capability} is false");
        Assert.True(ex.Operation == operation, $"{operation} while {capability} is false threw OperationNotSupportedException for {ex.Operation}.");
    }

    /// <summary>Asserts the call is refused with <see cref="InvalidPowerStateException"/> carrying <paramref name="state"/>.</summary>
    public static async Task InvalidPowerStateAsync(Func<Task> action, InstanceOperation operation, PowerState state)
    {
        var ex = await ThrowsAsync<InvalidPowerStateException>(action, $"{operation} from {state}");
        Assert.True(ex.CurrentState == state, $"{operation} from {state} threw InvalidPowerStateException with CurrentState {ex.CurrentState}.");
    }
}
