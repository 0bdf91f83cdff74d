using Microsoft.Win32.SafeHandles;

namespace Hypervisors.Libvirt.Native;

/// <summary>A <c>virConnectPtr</c>, closed with <c>virConnectClose</c>.</summary>
internal sealed class SafeConnectHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeConnectHandle()
        : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle() => LibvirtNative.ConnectClose(handle) >= 0;
}

/// <summary>A <c>virDomainPtr</c>, released with <c>virDomainFree</c>.</summary>
internal sealed class SafeDomainHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeDomainHandle()
        : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle() => LibvirtNative.DomainFree(handle) == 0;
}

/// <summary>A <c>virDomainSnapshotPtr</c>, released with <c>virDomainSnapshotFree</c>.</summary>
internal sealed class SafeSnapshotHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeSnapshotHandle()
        : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle() => LibvirtNative.DomainSnapshotFree(handle) == 0;
}
