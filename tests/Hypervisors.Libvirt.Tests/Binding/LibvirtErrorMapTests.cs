using Hypervisors.Libvirt.Mapping;
using Hypervisors.Libvirt.Native;

namespace Hypervisors.Libvirt.Tests.Binding;

public sealed class LibvirtErrorMapTests
{
    private const int FromQemu = 10;
    private const int FromTest = 12;

    [Theory]
    [InlineData(42, FromQemu, true, HypervisorErrorKind.NotFound)]
    [InlineData(55, FromQemu, true, HypervisorErrorKind.InvalidPowerState)]
    [InlineData(45, LibvirtErrorMap.FromRemote, true, HypervisorErrorKind.AuthenticationFailed)]
    [InlineData(88, FromQemu, true, HypervisorErrorKind.AuthenticationFailed)]
    [InlineData(28, FromQemu, true, HypervisorErrorKind.AlreadyExists)]
    [InlineData(5, FromQemu, true, HypervisorErrorKind.Unavailable)]
    [InlineData(39, LibvirtErrorMap.FromRpc, true, HypervisorErrorKind.Unavailable)]
    [InlineData(72, FromTest, true, HypervisorErrorKind.DeviceNotFound)]
    [InlineData(68, FromQemu, true, HypervisorErrorKind.Timeout)]
    [InlineData(84, FromQemu, true, HypervisorErrorKind.NotSupported)]
    [InlineData(27, FromQemu, true, HypervisorErrorKind.InvalidSpec)]
    [InlineData(9, FromQemu, true, HypervisorErrorKind.Unknown)]
    [InlineData(4242, FromQemu, true, HypervisorErrorKind.Unknown)]
    public void Error_numbers_map_to_their_kinds(int code, int domain, bool alive, HypervisorErrorKind expected) =>
        Assert.Equal(expected, LibvirtErrorMap.KindOf(new LibvirtError(code, domain, "m"), alive));

    [Fact]
    public void A_system_error_is_a_lost_connection_only_from_the_rpc_layer_or_on_a_dead_connection()
    {
        var localFailure = new LibvirtError(38, FromQemu, "cannot open file");
        Assert.Equal(HypervisorErrorKind.Unknown, LibvirtErrorMap.KindOf(localFailure, connectionAlive: true));
        Assert.Equal(HypervisorErrorKind.Unavailable, LibvirtErrorMap.KindOf(localFailure, connectionAlive: false));
        Assert.Equal(HypervisorErrorKind.Unavailable, LibvirtErrorMap.KindOf(new LibvirtError(38, LibvirtErrorMap.FromRpc, "Broken pipe"), connectionAlive: true));
        Assert.Equal(HypervisorErrorKind.Unavailable, LibvirtErrorMap.KindOf(new LibvirtError(1, FromQemu, "client socket is closed"), connectionAlive: false));
        Assert.Equal(HypervisorErrorKind.Unknown, LibvirtErrorMap.KindOf(new LibvirtError(1, FromQemu, "internal"), connectionAlive: true));
    }

    [Fact]
    public void Typed_exceptions_carry_the_instance_the_state_and_the_native_code()
    {
        var id = Guid.NewGuid();
        var notFound = Assert.IsType<InstanceNotFoundException>(Map(HypervisorErrorKind.NotFound, 42, id));
        Assert.Equal(id, notFound.MissingInstanceId);
        Assert.Equal("VIR_ERR_NO_DOMAIN", notFound.NativeCode);
        Assert.IsType<LibvirtCallException>(notFound.InnerException);

        var state = Assert.IsType<InvalidPowerStateException>(Map(HypervisorErrorKind.InvalidPowerState, 55, id, PowerState.Suspended));
        Assert.Equal(PowerState.Suspended, state.CurrentState);
        Assert.Equal(InstanceOperation.Start, state.Operation);
        Assert.Equal("VIR_ERR_OPERATION_INVALID", state.NativeCode);

        var lost = Assert.IsType<HypervisorUnavailableException>(Map(HypervisorErrorKind.Unavailable, 39, id));
        Assert.True(lost.IsTransient);
        Assert.Equal(id, lost.InstanceId);

        var snapshot = Assert.IsType<DeviceNotFoundException>(
            LibvirtErrorMap.ToException(HypervisorErrorKind.DeviceNotFound, Failure(72), "QEMU", InstanceOperation.DeleteSnapshot, id, device: ("snapshot", "s1")));
        Assert.Equal(("snapshot", "s1"), (snapshot.DeviceKind, snapshot.DeviceId));

        Assert.IsType<HypervisorAuthenticationException>(Map(HypervisorErrorKind.AuthenticationFailed, 45, null));
        Assert.IsType<InstanceAlreadyExistsException>(Map(HypervisorErrorKind.AlreadyExists, 28, id));
        Assert.IsType<OperationNotSupportedException>(Map(HypervisorErrorKind.NotSupported, 84, id));
        Assert.IsType<HypervisorTimeoutException>(Map(HypervisorErrorKind.Timeout, 68, id));
        var unknown = Map(HypervisorErrorKind.Unknown, 4242, id);
        Assert.Equal(HypervisorErrorKind.Unknown, unknown.Kind);
        Assert.Equal("VIR_ERR_4242", unknown.NativeCode);
    }

    [Fact]
    public void An_invalid_power_state_without_a_known_state_is_not_reported_as_one()
    {
        // Without the re-read state there is nothing to put in InvalidPowerStateException.CurrentState.
        var error = Map(HypervisorErrorKind.InvalidPowerState, 55, Guid.NewGuid(), state: null);
        Assert.IsNotType<InvalidPowerStateException>(error);
        Assert.Equal(HypervisorErrorKind.Unknown, error.Kind);
    }

    private static HypervisorException Map(HypervisorErrorKind kind, int code, Guid? id, PowerState? state = null) =>
        LibvirtErrorMap.ToException(kind, Failure(code), "QEMU", InstanceOperation.Start, id, state);

    private static LibvirtCallException Failure(int code) => new("virDomainCreate", new LibvirtError(code, FromQemu, "message from libvirt"));
}
