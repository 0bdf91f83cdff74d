using Hypervisors.Xen.Mapping;
using Hypervisors.Xen.Wire;

namespace Hypervisors.Xen.Tests.Driver;

public sealed class XenErrorMapTests
{
    private static readonly Guid Id = Guid.NewGuid();

    private static HypervisorException Map(string code, params string[] parameters) =>
        XenErrorMap.Map(new XenApiFailureException(code, parameters), new OperationContext(InstanceOperation.Start, Id));

    [Theory]
    [InlineData("halted", PowerState.Shutdown)]
    [InlineData("running", PowerState.Running)]
    [InlineData("paused", PowerState.Paused)]
    [InlineData("suspended", PowerState.Suspended)]
    [InlineData("Running", PowerState.Running)]
    public void VM_BAD_POWER_STATE_carries_the_actual_state(string actual, PowerState expected)
    {
        var ex = Assert.IsType<InvalidPowerStateException>(Map("VM_BAD_POWER_STATE", "OpaqueRef:v", "halted", actual));
        Assert.Equal(expected, ex.CurrentState);
        Assert.Equal(Id, ex.InstanceId);
    }

    [Fact]
    public void HANDLE_INVALID_is_not_found_for_VMs_and_device_not_found_for_devices()
    {
        Assert.Equal(Id, Assert.IsType<InstanceNotFoundException>(Map("HANDLE_INVALID", "VM", "OpaqueRef:v")).MissingInstanceId);
        Assert.Equal("volume", Assert.IsType<DeviceNotFoundException>(Map("HANDLE_INVALID", "VBD", "OpaqueRef:b")).DeviceKind);
        Assert.Equal("interface", Assert.IsType<DeviceNotFoundException>(Map("HANDLE_INVALID", "VIF", "OpaqueRef:f")).DeviceKind);
        var hostless = XenErrorMap.Map(new XenApiFailureException("HANDLE_INVALID", ["host", "OpaqueRef:h"]), new OperationContext(InstanceOperation.GetHostInfo, null));
        Assert.Equal(HypervisorErrorKind.NotFound, hostless.Kind);
    }

    [Theory]
    [InlineData("SESSION_AUTHENTICATION_FAILED", typeof(HypervisorAuthenticationException), false)]
    [InlineData("OTHER_OPERATION_IN_PROGRESS", typeof(HypervisorUnavailableException), true)]
    [InlineData("HOST_IS_SLAVE", typeof(HypervisorUnavailableException), true)]
    [InlineData("HOST_NOT_ENOUGH_FREE_MEMORY", typeof(InsufficientResourcesException), false)]
    [InlineData("SR_FULL", typeof(InsufficientResourcesException), false)]
    [InlineData("MESSAGE_METHOD_UNKNOWN", typeof(OperationNotSupportedException), false)]
    [InlineData("TASK_CANCELLED", typeof(HypervisorTimeoutException), true)]
    public void Codes_map_to_typed_errors(string code, Type expected, bool transient)
    {
        var ex = Map(code, "p1", "p2", "p3");
        Assert.IsType(expected, ex);
        Assert.Equal(transient, ex.IsTransient);
    }

    [Fact]
    public void Unknown_codes_keep_their_native_code()
    {
        var ex = Map("SOMETHING_NEW", "x");
        Assert.Equal(typeof(HypervisorException), ex.GetType());
        Assert.Equal("SOMETHING_NEW", ex.NativeCode);
        Assert.Equal(Id, ex.InstanceId);
    }
}
