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
    public static partial SafeConnectHandle ConnectOpen(string name);

    [LibraryImport(Library, EntryPoint = "virConnectClose")]
    public static partial int ConnectClose(IntPtr conn);

    [LibraryImport(Library, EntryPoint = "virConnectIsAlive")]
    public static partial int ConnectIsAlive(SafeConnectHandle conn);

    [LibraryImport(Library, EntryPoint = "virConnectGetCapabilities")]
    public static partial IntPtr ConnectGetCapabilities(SafeConnectHandle conn);

    [LibraryImport(Library, EntryPoint = "virConnectGetHostname")]
    public static partial IntPtr ConnectGetHostname(SafeConnectHandle conn);

    [LibraryImport(Library, EntryPoint = "virConnectGetVersion")]
    public static partial int ConnectGetVersion(SafeConnectHandle conn, out nuint hvVer);

    [LibraryImport(Library, EntryPoint = "virNodeGetInfo")]
    public static partial int NodeGetInfo(SafeConnectHandle conn, out VirNodeInfo info);

    [LibraryImport(Library, EntryPoint = "virConnectListAllDomains")]
    public static partial int ConnectListAllDomains(SafeConnectHandle conn, out IntPtr* domains, uint flags);

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
    public static partial int ConnectDomainEventRegisterAny(SafeConnectHandle conn, IntPtr dom, int eventId, IntPtr cb, IntPtr opaque, delegate* unmanaged[Cdecl]<IntPtr, void> freecb);

    [LibraryImport(Library, EntryPoint = "virConnectDomainEventDeregisterAny")]
    public static partial int ConnectDomainEventDeregisterAny(SafeConnectHandle conn, int callbackId);

    // ---- domains ----

    [LibraryImport(Library, EntryPoint = "virDomainFree")]
    public static partial int DomainFree(IntPtr domain);

    [LibraryImport(Library, EntryPoint = "virDomainLookupByUUID")]
    public static partial SafeDomainHandle DomainLookupByUuid(SafeConnectHandle conn, byte* uuid);

    [LibraryImport(Library, EntryPoint = "virDomainLookupByName", StringMarshalling = StringMarshalling.Utf8)]
    public static partial SafeDomainHandle DomainLookupByName(SafeConnectHandle conn, string name);

    [LibraryImport(Library, EntryPoint = "virDomainDefineXML", StringMarshalling = StringMarshalling.Utf8)]
    public static partial SafeDomainHandle DomainDefineXml(SafeConnectHandle conn, string xml);

    [LibraryImport(Library, EntryPoint = "virDomainCreate")]
    public static partial int DomainCreate(SafeDomainHandle domain);

    [LibraryImport(Library, EntryPoint = "virDomainDestroy")]
    public static partial int DomainDestroy(SafeDomainHandle domain);

    [LibraryImport(Library, EntryPoint = "virDomainShutdown")]
    public static partial int DomainShutdown(SafeDomainHandle domain);

    [LibraryImport(Library, EntryPoint = "virDomainReboot")]
    public static partial int DomainReboot(SafeDomainHandle domain, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainReset")]
    public static partial int DomainReset(SafeDomainHandle domain, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainSuspend")]
    public static partial int DomainSuspend(SafeDomainHandle domain);

    [LibraryImport(Library, EntryPoint = "virDomainResume")]
    public static partial int DomainResume(SafeDomainHandle domain);

    [LibraryImport(Library, EntryPoint = "virDomainManagedSave")]
    public static partial int DomainManagedSave(SafeDomainHandle domain, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainHasManagedSaveImage")]
    public static partial int DomainHasManagedSaveImage(SafeDomainHandle domain, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainHasManagedSaveImage")]
    public static partial int DomainHasManagedSaveImage(IntPtr domain, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainUndefineFlags")]
    public static partial int DomainUndefineFlags(SafeDomainHandle domain, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainGetInfo")]
    public static partial int DomainGetInfo(SafeDomainHandle domain, out VirDomainInfo info);

    [LibraryImport(Library, EntryPoint = "virDomainGetInfo")]
    public static partial int DomainGetInfo(IntPtr domain, out VirDomainInfo info);

    [LibraryImport(Library, EntryPoint = "virDomainGetState")]
    public static partial int DomainGetState(IntPtr domain, out int state, out int reason, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainGetUUID")]
    public static partial int DomainGetUuid(IntPtr domain, byte* uuid);

    [LibraryImport(Library, EntryPoint = "virDomainGetName")]
    public static partial IntPtr DomainGetName(IntPtr domain);

    [LibraryImport(Library, EntryPoint = "virDomainGetName")]
    public static partial IntPtr DomainGetName(SafeDomainHandle domain);

    [LibraryImport(Library, EntryPoint = "virDomainGetXMLDesc")]
    public static partial IntPtr DomainGetXmlDesc(SafeDomainHandle domain, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainGetMetadata", StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr DomainGetMetadata(IntPtr domain, int type, string uri, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainSetMetadata", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int DomainSetMetadata(SafeDomainHandle domain, int type, string? metadata, string? key, string? uri, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainAttachDeviceFlags", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int DomainAttachDeviceFlags(SafeDomainHandle domain, string xml, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainDetachDeviceFlags", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int DomainDetachDeviceFlags(SafeDomainHandle domain, string xml, uint flags);

    // ---- snapshots ----

    [LibraryImport(Library, EntryPoint = "virDomainSnapshotCreateXML", StringMarshalling = StringMarshalling.Utf8)]
    public static partial SafeSnapshotHandle DomainSnapshotCreateXml(SafeDomainHandle domain, string xml, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainListAllSnapshots")]
    public static partial int DomainListAllSnapshots(SafeDomainHandle domain, out IntPtr* snapshots, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainSnapshotLookupByName", StringMarshalling = StringMarshalling.Utf8)]
    public static partial SafeSnapshotHandle DomainSnapshotLookupByName(SafeDomainHandle domain, string name, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainSnapshotGetXMLDesc")]
    public static partial IntPtr DomainSnapshotGetXmlDesc(IntPtr snapshot, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainSnapshotDelete")]
    public static partial int DomainSnapshotDelete(SafeSnapshotHandle snapshot, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainSnapshotFree")]
    public static partial int DomainSnapshotFree(IntPtr snapshot);

    /// <summary>Keeps the JIT from inlining the static constructor check into hot loops of callers.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void EnsureLoaded() => RuntimeHelpers.RunClassConstructor(typeof(LibvirtNative).TypeHandle);
}
