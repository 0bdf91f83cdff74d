namespace Hypervisors.Libvirt.Native;

/// <summary>libvirt's last error as copied off the calling thread: the <c>virErrorNumber</c>, the <c>virErrorDomain</c> and the message.</summary>
/// <param name="Code">The <c>VIR_ERR_*</c> number.</param>
/// <param name="Domain">The <c>VIR_FROM_*</c> number: the part of libvirt that raised it.</param>
/// <param name="Message">libvirt's message.</param>
internal sealed record LibvirtError(int Code, int Domain, string Message)
{
    /// <summary>Copies the calling thread's last libvirt error and clears it; the thread must be the one that made the failed call.</summary>
    public static unsafe LibvirtError Capture(string call)
    {
        var error = LibvirtNative.GetLastError();
        if (error is null)
        {
            return new LibvirtError(0, 0, call + " failed without an error from libvirt.");
        }

        var captured = new LibvirtError(error->Code, error->Domain, LibvirtNative.ReadString(error->Message) ?? call + " failed.");
        LibvirtNative.ResetLastError();
        return captured;
    }
}

/// <summary>
/// A failed libvirt call, before the driver maps it to the contract's typed errors (in its <c>MapException</c>). The
/// native-call path adds what it learned on the same thread and connection: <see cref="Kind"/> and
/// <see cref="ObservedState"/>.
/// </summary>
internal sealed class LibvirtCallException(string call, LibvirtError error, Exception? innerException = null)
    : Exception($"{call}: {error.Message} (code {error.Code}, domain {error.Domain})", innerException)
{
    /// <summary>The contract's kind of the failure, decided where the connection could be asked whether it is alive; null when nobody asked.</summary>
    public HypervisorErrorKind? Kind { get; set; }

    /// <summary>The instance's power state read again after the failure, for a refused power operation.</summary>
    public PowerState? ObservedState { get; set; }

    /// <summary>The C function that failed.</summary>
    public string Call { get; } = call;

    /// <summary>libvirt's error.</summary>
    public LibvirtError Error { get; } = error;
}
