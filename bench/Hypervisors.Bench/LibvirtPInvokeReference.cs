using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Hypervisors.Bench;

/// <summary>
/// <c>libvirt --pinvoke</c>: the calls of the C reference's "c" mode (bench/libvirt-c: UUID lookup before define,
/// managed-save check before start, active check before undefine) made from this .NET process through bare P/Invoke,
/// with no driver code between. Set beside the C program and the driver it splits the driver's distance from C into
/// what running libvirt inside a .NET process costs and what the driver's own code adds. The domain XML is the
/// driver's document with generated names and ids, filled into a fixed template as the C reference does.
/// </summary>
internal static unsafe partial class LibvirtPInvokeReference
{
    private const string Library = "libvirt.so.0";
    private const uint UndefineManagedSaveAndSnapshots = 1 | 2;

    public static (double[] Phases, int Listed) Run(string uri, string prefix, int n)
    {
        SetErrorFunc(IntPtr.Zero, &IgnoreError);
        var conn = ConnectOpen(uri);
        if (conn == IntPtr.Zero)
        {
            throw Failure("virConnectOpen");
        }

        try
        {
            return RunPhases(conn, prefix, n);
        }
        finally
        {
            _ = ConnectClose(conn);
        }
    }

    private static (double[] Phases, int Listed) RunPhases(IntPtr conn, string prefix, int n)
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var domains = new IntPtr[n];
        var phases = new double[5];
        Span<byte> uuid = stackalloc byte[16];
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < n; i++)
        {
            var id = Guid.NewGuid();
            var name = string.Create(CultureInfo.InvariantCulture, $"{prefix}-{run}-{i}");
            var xml = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
                $"<domain type=\"test\"><name>{name}</name><uuid>{id:D}</uuid><metadata><hv:instance xmlns:hv=\"https://github.com/hypervisors-sdk/libvirt/instance/1\"><hv:spec>{{\"version\":1,\"spec\":{{\"id\":\"{id:D}\",\"name\":\"{name}\",\"vCpus\":1,\"memoryMiB\":64,\"disks\":[],\"networkInterfaces\":[],\"metadata\":{{}},\"startAfterCreate\":false}}}}</hv:spec></hv:instance></metadata><memory unit=\"MiB\">64</memory><vcpu>1</vcpu><os><type arch=\"x86_64\">hvm</type><boot dev=\"hd\" /></os><features><acpi /></features><on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash><devices /></domain>\0"));
            id.TryWriteBytes(uuid, bigEndian: true, out _);
            fixed (byte* p = uuid)
            {
                var existing = LookupByUuid(conn, p);
                if (existing != IntPtr.Zero)
                {
                    throw new InvalidOperationException($"Domain {id} exists already.");
                }

                ResetLastError();
            }

            fixed (byte* x = xml)
            {
                domains[i] = DefineXml(conn, x);
            }

            if (domains[i] == IntPtr.Zero)
            {
                throw Failure("virDomainDefineXML");
            }
        }

        phases[0] = Lap(clock);
        foreach (var domain in domains)
        {
            if (HasManagedSaveImage(domain, 0) != 0 || Create(domain) < 0)
            {
                throw Failure("virDomainCreate");
            }
        }

        phases[1] = Lap(clock);
        var count = ListAllDomains(conn, out var list, 0);
        if (count < 0)
        {
            throw Failure("virConnectListAllDomains");
        }

        var running = 0;
        for (var i = 0; i < count; i++)
        {
            if (GetInfo(list[i], out var info) < 0)
            {
                throw Failure("virDomainGetInfo");
            }

            fixed (byte* p = uuid)
            {
                _ = GetUuid(list[i], p);
            }

            var listed = (Id: new Guid(uuid, bigEndian: true), Name: Marshal.PtrToStringUTF8(GetName(list[i])), info.NrVirtCpu);
            running += info.State == 1 && listed.Name is not null ? 1 : 0;
            _ = Free(list[i]);
        }

        NativeMemory.Free(list);
        phases[2] = Lap(clock);
        foreach (var domain in domains)
        {
            if (Destroy(domain) < 0)
            {
                throw Failure("virDomainDestroy");
            }
        }

        phases[3] = Lap(clock);
        foreach (var domain in domains)
        {
            var active = IsActive(domain);
            if (active < 0 || (active == 1 && Destroy(domain) < 0) || UndefineFlags(domain, UndefineManagedSaveAndSnapshots) < 0)
            {
                throw Failure("virDomainUndefineFlags");
            }

            _ = Free(domain);
        }

        phases[4] = Lap(clock);
        return running >= n ? (phases, count) : throw new InvalidOperationException($"Listed {running} running domains; expected at least {n}.");
    }

    private static double Lap(Stopwatch clock)
    {
        var ms = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        return ms;
    }

    private static InvalidOperationException Failure(string call)
    {
        var error = GetLastError();
        return new InvalidOperationException($"{call} failed: {(error == null ? "unknown error" : Marshal.PtrToStringUTF8(error->Message))}");
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void IgnoreError(IntPtr userData, Error* error)
    {
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct DomainInfo
    {
        public byte State;
        public nuint MaxMemKiB;
        public nuint MemoryKiB;
        public ushort NrVirtCpu;
        public ulong CpuTimeNs;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Error
    {
        public int Code;
        public int Domain;
        public IntPtr Message;
    }

    [LibraryImport(Library, EntryPoint = "virSetErrorFunc")]
    private static partial void SetErrorFunc(IntPtr userData, delegate* unmanaged[Cdecl]<IntPtr, Error*, void> handler);

    [LibraryImport(Library, EntryPoint = "virGetLastError")]
    private static partial Error* GetLastError();

    [LibraryImport(Library, EntryPoint = "virResetLastError")]
    private static partial void ResetLastError();

    [LibraryImport(Library, EntryPoint = "virConnectOpen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr ConnectOpen(string name);

    [LibraryImport(Library, EntryPoint = "virConnectClose")]
    private static partial int ConnectClose(IntPtr conn);

    [LibraryImport(Library, EntryPoint = "virDomainLookupByUUID")]
    private static partial IntPtr LookupByUuid(IntPtr conn, byte* uuid);

    [LibraryImport(Library, EntryPoint = "virDomainDefineXML")]
    private static partial IntPtr DefineXml(IntPtr conn, byte* xml);

    [LibraryImport(Library, EntryPoint = "virDomainHasManagedSaveImage")]
    private static partial int HasManagedSaveImage(IntPtr domain, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainCreate")]
    private static partial int Create(IntPtr domain);

    [LibraryImport(Library, EntryPoint = "virConnectListAllDomains")]
    private static partial int ListAllDomains(IntPtr conn, out IntPtr* domains, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainGetInfo")]
    private static partial int GetInfo(IntPtr domain, out DomainInfo info);

    [LibraryImport(Library, EntryPoint = "virDomainGetUUID")]
    private static partial int GetUuid(IntPtr domain, byte* uuid);

    [LibraryImport(Library, EntryPoint = "virDomainGetName")]
    private static partial IntPtr GetName(IntPtr domain);

    [LibraryImport(Library, EntryPoint = "virDomainDestroy")]
    private static partial int Destroy(IntPtr domain);

    [LibraryImport(Library, EntryPoint = "virDomainIsActive")]
    private static partial int IsActive(IntPtr domain);

    [LibraryImport(Library, EntryPoint = "virDomainUndefineFlags")]
    private static partial int UndefineFlags(IntPtr domain, uint flags);

    [LibraryImport(Library, EntryPoint = "virDomainFree")]
    private static partial int Free(IntPtr domain);
}
