using System.Runtime.InteropServices;

namespace Hypervisors.Libvirt.Native;

/// <summary><c>virError</c>: libvirt's per-thread last error.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VirError
{
    public int Code;
    public int Domain;
    public IntPtr Message;
    public int Level;
    public IntPtr Conn;
    public IntPtr Dom;
    public IntPtr Str1;
    public IntPtr Str2;
    public IntPtr Str3;
    public int Int1;
    public int Int2;
    public IntPtr Net;
}

/// <summary><c>virNodeInfo</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct VirNodeInfo
{
    public fixed byte Model[32];
    public nuint MemoryKiB;
    public uint Cpus;
    public uint Mhz;
    public uint Nodes;
    public uint Sockets;
    public uint Cores;
    public uint Threads;
}

/// <summary><c>virDomainInfo</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VirDomainInfo
{
    public byte State;
    public nuint MaxMemKiB;
    public nuint MemoryKiB;
    public ushort NrVirtCpu;
    public ulong CpuTimeNs;
}

/// <summary>The libvirt constants this driver passes or reads (values from libvirt-api.xml).</summary>
internal static class VirConstants
{
    public const int DomainNoState = 0;
    public const int DomainRunning = 1;
    public const int DomainBlocked = 2;
    public const int DomainPaused = 3;

    /// <summary>VIR_DOMAIN_PAUSED_STARTING_UP: paused only while QEMU starts, before the first resume.</summary>
    public const int PausedStartingUp = 11;
    public const int DomainShutdown = 4;
    public const int DomainShutoff = 5;
    public const int DomainCrashed = 6;
    public const int DomainPmSuspended = 7;

    public const uint AffectLive = 1;
    public const uint AffectConfig = 2;

    public const int MetadataElement = 2;

    public const uint UndefineManagedSave = 1;
    public const uint UndefineSnapshotsMetadata = 2;

    public const uint XmlInactive = 2;

    public const int EventIdLifecycle = 0;

    public const int EventDefined = 0;
    public const int EventUndefined = 1;
    public const int EventStarted = 2;
    public const int EventSuspended = 3;
    public const int EventResumed = 4;
    public const int EventStopped = 5;
    public const int EventShutdown = 6;
    public const int EventPmSuspended = 7;
    public const int EventCrashed = 8;

    public const int EventDefinedAdded = 0;
    public const int EventStoppedCrashed = 2;
    public const int EventStoppedSaved = 4;
}
