using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Hypervisors.Libvirt.Native;

/// <summary>
/// The libvirt C API as this driver uses it, declared from libvirt's own API description
/// (<c>/usr/share/libvirt/api/libvirt-api.xml</c>). Strings go in as UTF-8; strings that libvirt allocates
/// for the caller come back as pointers and are freed with <see cref="FreeString"/>.
/// </summary>
internal static unsafe partial class LibvirtNative
{
    private const string Library = "libvirt";

    // Names tried for the library, most specific first: Debian ships libvirt.so.0 without the
    // unversioned libvirt.so unless libvirt-dev is installed.
    private static readonly string[] LibraryNames = ["libvirt.so.0", "libvirt"];

    static LibvirtNative() => NativeLibrary.SetDllImportResolver(typeof(LibvirtNative).Assembly, Resolve);

    /// <summary>Whether libvirt.so can be loaded on this machine.</summary>
    public static bool IsAvailable()
    {
        foreach (var name in LibraryNames)
        {
            if (NativeLibrary.TryLoad(name, out _))
            {
                return true;
            }
        }

        return false;
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != Library)
        {
            return IntPtr.Zero;
        }

        foreach (var name in LibraryNames)
        {
            if (NativeLibrary.TryLoad(name, assembly, searchPath, out var handle))
            {
                return handle;
            }
        }

        return IntPtr.Zero;
    }

    /// <summary>
    /// Passes a call's result through after noting the call on the flow's <see cref="Hypervisors.Counting.FlowCallCounter"/>. Every
    /// function that does work in libvirt's driver (one RPC to libvirtd for a remote connection) goes through here;
    /// local ones (the UUID and name a handle carries, frees, errors, the event loop) and a connection's close-callback
    /// bookkeeping do not.
    /// </summary>
    private static T Counted<T>(T result, string function)
    {
        Hypervisors.Counting.FlowCallCounter.Record(function);
        return result;
    }

    /// <summary>Frees a string or array that libvirt allocated with malloc for the caller.</summary>
    public static void FreeString(IntPtr pointer) => NativeMemory.Free((void*)pointer);

    /// <summary>Copies a libvirt-owned UTF-8 string, or returns null for a null pointer.</summary>
    public static string? ReadString(IntPtr pointer) => pointer == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(pointer);

    /// <summary>Copies and frees a string that libvirt allocated for the caller.</summary>
    public static string? TakeString(IntPtr pointer)
    {
        if (pointer == IntPtr.Zero)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8(pointer);
        }
        finally
        {
            FreeString(pointer);
        }
    }

    // ---- library and errors ----

    [LibraryImport(Library, EntryPoint = "virInitialize")]
    public static partial int Initialize();

    [LibraryImport(Library, EntryPoint = "virGetLastError")]
    public static partial VirError* GetLastError();

    [LibraryImport(Library, EntryPoint = "virResetLastError")]
    public static partial void ResetLastError();

    [LibraryImport(Library, EntryPoint = "virSetErrorFunc")]
    public static partial void SetErrorFunc(IntPtr userData, delegate* unmanaged[Cdecl]<IntPtr, VirError*, void> handler);

    // ---- connections ----

    [LibraryImport(Library, EntryPoint = "virConnectOpen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial SafeConnectHandle ConnectOpenCore(string name);

    public static SafeConnectHandle ConnectOpen(string name) => Counted(ConnectOpenCore(name), "virConnectOpen");

    [LibraryImport(Library, EntryPoint = "virConnectClose")]
    public static partial int ConnectClose(IntPtr conn);

    [LibraryImport(Library, EntryPoint = "virConnectIsAlive")]
    public static partial int ConnectIsAlive(SafeConnectHandle conn);

    [LibraryImport(Library, EntryPoint = "virConnectGetCapabilities")]
    private static partial IntPtr ConnectGetCapabilitiesCore(SafeConnectHandle conn);

    public static IntPtr ConnectGetCapabilities(SafeConnectHandle conn) => Counted(ConnectGetCapabilitiesCore(conn), "virConnectGetCapabilities");

    [LibraryImport(Library, EntryPoint = "virConnectGetHostname")]
    private static partial IntPtr ConnectGetHostnameCore(SafeConnectHandle conn);

    public static IntPtr ConnectGetHostname(SafeConnectHandle conn) => Counted(ConnectGetHostnameCore(conn), "virConnectGetHostname");

    [LibraryImport(Library, EntryPoint = "virConnectGetVersion")]
    private static partial int ConnectGetVersionCore(SafeConnectHandle conn, out nuint hvVer);

    public static int ConnectGetVersion(SafeConnectHandle conn, out nuint hvVer) => Counted(ConnectGetVersionCore(conn, out hvVer), "virConnectGetVersion");

    [LibraryImport(Library, EntryPoint = "virNodeGetInfo")]
    private static partial int NodeGetInfoCore(SafeConnectHandle conn, out VirNodeInfo info);

    public static int NodeGetInfo(SafeConnectHandle conn, out VirNodeInfo info) => Counted(NodeGetInfoCore(conn, out info), "virNodeGetInfo");

    [LibraryImport(Library, EntryPoint = "virConnectListAllDomains")]
    private static partial int ConnectListAllDomainsCore(SafeConnectHandle conn, out IntPtr* domains, uint flags);

    public static int ConnectListAllDomains(SafeConnectHandle conn, out IntPtr* domains, uint flags) => Counted(ConnectListAllDomainsCore(conn, out domains, flags), "virConnectListAllDomains");

    [LibraryImport(Library, EntryPoint = "virConnectRegisterCloseCallback")]
    public static partial int ConnectRegisterCloseCallback(SafeConnectHandle conn, delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr, void> cb, IntPtr opaque, delegate* unmanaged[Cdecl]<IntPtr, void> freecb);

    [LibraryImport(Library, EntryPoint = "virConnectUnregisterCloseCallback")]
    public static partial int ConnectUnregisterCloseCallback(SafeConnectHandle conn, delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr, void> cb);

    // ---- events ----

    [LibraryImport(Library, EntryPoint = "virEventRegisterDefaultImpl")]
    public static partial int EventRegisterDefaultImpl();

    [LibraryImport(Library, EntryPoint = "virEventRunDefaultImpl")]
    public static partial int EventRunDefaultImpl();

    [LibraryImport(Library, EntryPoint = "virEventAddTimeout")]
    public static partial int EventAddTimeout(int timeout, delegate* unmanaged[Cdecl]<int, IntPtr, void> cb, IntPtr opaque, delegate* unmanaged[Cdecl]<IntPtr, void> ff);

    [LibraryImport(Library, EntryPoint = "virEventRemoveTimeout")]
    public static partial int EventRemoveTimeout(int timer);

    [LibraryImport(Library, EntryPoint = "virConnectDomainEventRegisterAny")]
    private static partial int ConnectDomainEventRegisterAnyCore(SafeConnectHandle conn, IntPtr dom, int eventId, IntPtr cb, IntPtr opaque, delegate* unmanaged[Cdecl]<IntPtr, void> freecb);

    public static int ConnectDomainEventRegisterAny(SafeConnectHandle conn, IntPtr dom, int eventId, IntPtr cb, IntPtr opaque, delegate* unmanaged[Cdecl]<IntPtr, void> freecb) => Counted(ConnectDomainEventRegisterAnyCore(conn, dom, eventId, cb, opaque, freecb), "virConnectDomainEventRegisterAny");

    [LibraryImport(Library, EntryPoint = "virConnectDomainEventDeregisterAny")]
    private static partial int ConnectDomainEventDeregisterAnyCore(SafeConnectHandle conn, int callbackId);

    public static int ConnectDomainEventDeregisterAny(SafeConnectHandle conn, int callbackId) => Counted(ConnectDomainEventDeregisterAnyCore(conn, callbackId), "virConnectDomainEventDeregisterAny");

    // ---- domains ----

    [LibraryImport(Library, EntryPoint = "virDomainFree")]
    public static partial int DomainFree(IntPtr domain);

    [LibraryImport(Library, EntryPoint = "virDomainLookupByUUID")]
    private static partial SafeDomainHandle DomainLookupByUuidCore(SafeConnectHandle conn, byte* uuid);

    public static SafeDomainHandle DomainLookupByUuid(SafeConnectHandle conn, byte* uuid) => Counted(DomainLookupByUuidCore(conn, uuid), "virDomainLookupByUUID");

    [LibraryImport(Library, EntryPoint = "virDomainLookupByName", StringMarshalling = StringMarshalling.Utf8)]
    private static partial SafeDomainHandle DomainLookupByNameCore(SafeConnectHandle conn, string name);

    public static SafeDomainHandle DomainLookupByName(SafeConnectHandle conn, string name) => Counted(DomainLookupByNameCore(conn, name), "virDomainLookupByName");

    [LibraryImport(Library, EntryPoint = "virDomainDefineXML")]
    private static partial SafeDomainHandle DomainDefineXmlCore(SafeConnectHandle conn, byte* xml);

    /// <summary><c>virDomainDefineXML</c> with the document already in NUL-terminated UTF-8 (see <c>SafeXml.WriteUtf8</c>).</summary>
    /// <exception cref="ArgumentException"><paramref name="xmlUtf8"/> does not end with its NUL.</exception>
    public static SafeDomainHandle DomainDefineXml(SafeConnectHandle conn, ReadOnlySpan<byte> xmlUtf8)
    {
        if (xmlUtf8.IsEmpty || xmlUtf8[^1] != 0)
        {
            throw new ArgumentException("The domain XML must end with a NUL byte.", nameof(xmlUtf8));
        }

        fixed (byte* xml = xmlUtf8)
        {
            return Counted(DomainDefineXmlCore(conn, xml), "virDomainDefineXML");
        }
    }

    [LibraryImport(Library, EntryPoint = "virDomainCreate")]
    private static partial int DomainCreateCore(SafeDomainHandle domain);

    public static int DomainCreate(SafeDomainHandle domain) => Counted(DomainCreateCore(domain), "virDomainCreate");

    [LibraryImport(Library, EntryPoint = "virDomainDestroy")]
    private static partial int DomainDestroyCore(SafeDomainHandle domain);

    public static int DomainDestroy(SafeDomainHandle domain) => Counted(DomainDestroyCore(domain), "virDomainDestroy");

    [LibraryImport(Library, EntryPoint = "virDomainShutdown")]
    private static partial int DomainShutdownCore(SafeDomainHandle domain);

    public static int DomainShutdown(SafeDomainHandle domain) => Counted(DomainShutdownCore(domain), "virDomainShutdown");

    [LibraryImport(Library, EntryPoint = "virDomainReboot")]
    private static partial int DomainRebootCore(SafeDomainHandle domain, uint flags);

    public static int DomainReboot(SafeDomainHandle domain, uint flags) => Counted(DomainRebootCore(domain, flags), "virDomainReboot");

    [LibraryImport(Library, EntryPoint = "virDomainReset")]
    private static partial int DomainResetCore(SafeDomainHandle domain, uint flags);

    public static int DomainReset(SafeDomainHandle domain, uint flags) => Counted(DomainResetCore(domain, flags), "virDomainReset");

    [LibraryImport(Library, EntryPoint = "virDomainSuspend")]
    private static partial int DomainSuspendCore(SafeDomainHandle domain);

    public static int DomainSuspend(SafeDomainHandle domain) => Counted(DomainSuspendCore(domain), "virDomainSuspend");

    [LibraryImport(Library, EntryPoint = "virDomainResume")]
    private static partial int DomainResumeCore(SafeDomainHandle domain);

    public static int DomainResume(SafeDomainHandle domain) => Counted(DomainResumeCore(domain), "virDomainResume");

    [LibraryImport(Library, EntryPoint = "virDomainManagedSave")]
    private static partial int DomainManagedSaveCore(SafeDomainHandle domain, uint flags);

    public static int DomainManagedSave(SafeDomainHandle domain, uint flags) => Counted(DomainManagedSaveCore(domain, flags), "virDomainManagedSave");

    [LibraryImport(Library, EntryPoint = "virDomainHasManagedSaveImage")]
    private static partial int DomainHasManagedSaveImageCore(SafeDomainHandle domain, uint flags);

    public static int DomainHasManagedSaveImage(SafeDomainHandle domain, uint flags) => Counted(DomainHasManagedSaveImageCore(domain, flags), "virDomainHasManagedSaveImage");

    [LibraryImport(Library, EntryPoint = "virDomainHasManagedSaveImage")]
    private static partial int DomainHasManagedSaveImageCore(IntPtr domain, uint flags);

    public static int DomainHasManagedSaveImage(IntPtr domain, uint flags) => Counted(DomainHasManagedSaveImageCore(domain, flags), "virDomainHasManagedSaveImage");

    [LibraryImport(Library, EntryPoint = "virDomainUndefineFlags")]
    private static partial int DomainUndefineFlagsCore(SafeDomainHandle domain, uint flags);

    public static int DomainUndefineFlags(SafeDomainHandle domain, uint flags) => Counted(DomainUndefineFlagsCore(domain, flags), "virDomainUndefineFlags");

    [LibraryImport(Library, EntryPoint = "virDomainGetInfo")]
    private static partial int DomainGetInfoCore(SafeDomainHandle domain, out VirDomainInfo info);

    public static int DomainGetInfo(SafeDomainHandle domain, out VirDomainInfo info) => Counted(DomainGetInfoCore(domain, out info), "virDomainGetInfo");

    [LibraryImport(Library, EntryPoint = "virDomainGetInfo")]
    private static partial int DomainGetInfoCore(IntPtr domain, out VirDomainInfo info);

    public static int DomainGetInfo(IntPtr domain, out VirDomainInfo info) => Counted(DomainGetInfoCore(domain, out info), "virDomainGetInfo");

    [LibraryImport(Library, EntryPoint = "virDomainGetState")]
    private static partial int DomainGetStateCore(IntPtr domain, out int state, out int reason, uint flags);

    public static int DomainGetState(IntPtr domain, out int state, out int reason, uint flags) => Counted(DomainGetStateCore(domain, out state, out reason, flags), "virDomainGetState");

    [LibraryImport(Library, EntryPoint = "virDomainGetUUID")]
    public static partial int DomainGetUuid(IntPtr domain, byte* uuid);

    [LibraryImport(Library, EntryPoint = "virDomainGetName")]
    public static partial IntPtr DomainGetName(IntPtr domain);

    [LibraryImport(Library, EntryPoint = "virDomainGetName")]
    public static partial IntPtr DomainGetName(SafeDomainHandle domain);

    [LibraryImport(Library, EntryPoint = "virDomainGetXMLDesc")]
    private static partial IntPtr DomainGetXmlDescCore(SafeDomainHandle domain, uint flags);

    public static IntPtr DomainGetXmlDesc(SafeDomainHandle domain, uint flags) => Counted(DomainGetXmlDescCore(domain, flags), "virDomainGetXMLDesc");

    [LibraryImport(Library, EntryPoint = "virDomainGetMetadata", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr DomainGetMetadataCore(IntPtr domain, int type, string uri, uint flags);

    public static IntPtr DomainGetMetadata(IntPtr domain, int type, string uri, uint flags) => Counted(DomainGetMetadataCore(domain, type, uri, flags), "virDomainGetMetadata");

    [LibraryImport(Library, EntryPoint = "virDomainSetMetadata", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int DomainSetMetadataCore(SafeDomainHandle domain, int type, string? metadata, string? key, string? uri, uint flags);

    public static int DomainSetMetadata(SafeDomainHandle domain, int type, string? metadata, string? key, string? uri, uint flags) => Counted(DomainSetMetadataCore(domain, type, metadata, key, uri, flags), "virDomainSetMetadata");

    [LibraryImport(Library, EntryPoint = "virDomainAttachDeviceFlags", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int DomainAttachDeviceFlagsCore(SafeDomainHandle domain, string xml, uint flags);

    public static int DomainAttachDeviceFlags(SafeDomainHandle domain, string xml, uint flags) => Counted(DomainAttachDeviceFlagsCore(domain, xml, flags), "virDomainAttachDeviceFlags");

    [LibraryImport(Library, EntryPoint = "virDomainDetachDeviceFlags", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int DomainDetachDeviceFlagsCore(SafeDomainHandle domain, string xml, uint flags);

    public static int DomainDetachDeviceFlags(SafeDomainHandle domain, string xml, uint flags) => Counted(DomainDetachDeviceFlagsCore(domain, xml, flags), "virDomainDetachDeviceFlags");

    // ---- snapshots ----

    [LibraryImport(Library, EntryPoint = "virDomainSnapshotCreateXML", StringMarshalling = StringMarshalling.Utf8)]
    private static partial SafeSnapshotHandle DomainSnapshotCreateXmlCore(SafeDomainHandle domain, string xml, uint flags);

    public static SafeSnapshotHandle DomainSnapshotCreateXml(SafeDomainHandle domain, string xml, uint flags) => Counted(DomainSnapshotCreateXmlCore(domain, xml, flags), "virDomainSnapshotCreateXML");

    [LibraryImport(Library, EntryPoint = "virDomainListAllSnapshots")]
    private static partial int DomainListAllSnapshotsCore(SafeDomainHandle domain, out IntPtr* snapshots, uint flags);

    public static int DomainListAllSnapshots(SafeDomainHandle domain, out IntPtr* snapshots, uint flags) => Counted(DomainListAllSnapshotsCore(domain, out snapshots, flags), "virDomainListAllSnapshots");

    [LibraryImport(Library, EntryPoint = "virDomainSnapshotLookupByName", StringMarshalling = StringMarshalling.Utf8)]
    private static partial SafeSnapshotHandle DomainSnapshotLookupByNameCore(SafeDomainHandle domain, string name, uint flags);

    public static SafeSnapshotHandle DomainSnapshotLookupByName(SafeDomainHandle domain, string name, uint flags) => Counted(DomainSnapshotLookupByNameCore(domain, name, flags), "virDomainSnapshotLookupByName");

    [LibraryImport(Library, EntryPoint = "virDomainSnapshotGetXMLDesc")]
    private static partial IntPtr DomainSnapshotGetXmlDescCore(IntPtr snapshot, uint flags);

    public static IntPtr DomainSnapshotGetXmlDesc(IntPtr snapshot, uint flags) => Counted(DomainSnapshotGetXmlDescCore(snapshot, flags), "virDomainSnapshotGetXMLDesc");

    [LibraryImport(Library, EntryPoint = "virDomainSnapshotDelete")]
    private static partial int DomainSnapshotDeleteCore(SafeSnapshotHandle snapshot, uint flags);

    public static int DomainSnapshotDelete(SafeSnapshotHandle snapshot, uint flags) => Counted(DomainSnapshotDeleteCore(snapshot, flags), "virDomainSnapshotDelete");

    [LibraryImport(Library, EntryPoint = "virDomainSnapshotFree")]
    public static partial int DomainSnapshotFree(IntPtr snapshot);

    /// <summary>Keeps the JIT from inlining the static constructor check into hot loops of callers.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void EnsureLoaded() => RuntimeHelpers.RunClassConstructor(typeof(LibvirtNative).TypeHandle);
}
