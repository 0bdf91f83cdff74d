namespace HyperVSimulator.Cim;

/// <summary>The classes the simulator knows: their WMI namespace, superclass (for WQL's "instances of subclasses too") and keys.</summary>
public static class CimSchema
{
    public const string Virtualization = "root/virtualization/v2";
    public const string Cimv2 = "root/cimv2";

    private static readonly Dictionary<string, (string Namespace, string? Parent, string[] Keys)> Classes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["CIM_ManagedElement"] = (Virtualization, null, []),
        ["CIM_ComputerSystem"] = (Virtualization, "CIM_ManagedElement", ["CreationClassName", "Name"]),
        ["Msvm_ComputerSystem"] = (Virtualization, "CIM_ComputerSystem", ["CreationClassName", "Name"]),
        ["CIM_Service"] = (Virtualization, "CIM_ManagedElement", ["CreationClassName", "Name", "SystemCreationClassName", "SystemName"]),
        ["Msvm_VirtualSystemManagementService"] = (Virtualization, "CIM_Service", ["CreationClassName", "Name", "SystemCreationClassName", "SystemName"]),
        ["Msvm_ImageManagementService"] = (Virtualization, "CIM_Service", ["CreationClassName", "Name", "SystemCreationClassName", "SystemName"]),
        ["Msvm_VirtualSystemSnapshotService"] = (Virtualization, "CIM_Service", ["CreationClassName", "Name", "SystemCreationClassName", "SystemName"]),
        ["CIM_LogicalDevice"] = (Virtualization, "CIM_ManagedElement", ["CreationClassName", "DeviceID", "SystemCreationClassName", "SystemName"]),
        ["Msvm_ShutdownComponent"] = (Virtualization, "CIM_LogicalDevice", ["CreationClassName", "DeviceID", "SystemCreationClassName", "SystemName"]),
        ["Msvm_VirtualEthernetSwitch"] = (Virtualization, "CIM_ComputerSystem", ["CreationClassName", "Name"]),
        ["CIM_SettingData"] = (Virtualization, "CIM_ManagedElement", ["InstanceID"]),
        ["CIM_VirtualSystemSettingData"] = (Virtualization, "CIM_SettingData", ["InstanceID"]),
        ["Msvm_VirtualSystemSettingData"] = (Virtualization, "CIM_VirtualSystemSettingData", ["InstanceID"]),
        ["CIM_ResourceAllocationSettingData"] = (Virtualization, "CIM_SettingData", ["InstanceID"]),
        ["Msvm_ResourceAllocationSettingData"] = (Virtualization, "CIM_ResourceAllocationSettingData", ["InstanceID"]),
        ["Msvm_ProcessorSettingData"] = (Virtualization, "CIM_ResourceAllocationSettingData", ["InstanceID"]),
        ["Msvm_MemorySettingData"] = (Virtualization, "CIM_ResourceAllocationSettingData", ["InstanceID"]),
        ["Msvm_StorageAllocationSettingData"] = (Virtualization, "CIM_ResourceAllocationSettingData", ["InstanceID"]),
        ["Msvm_EthernetPortAllocationSettingData"] = (Virtualization, "CIM_ResourceAllocationSettingData", ["InstanceID"]),
        ["Msvm_SyntheticEthernetPortSettingData"] = (Virtualization, "CIM_ResourceAllocationSettingData", ["InstanceID"]),
        ["Msvm_VirtualHardDiskSettingData"] = (Virtualization, "CIM_SettingData", ["InstanceID"]),
        ["CIM_ConcreteJob"] = (Virtualization, "CIM_ManagedElement", ["InstanceID"]),
        ["Msvm_ConcreteJob"] = (Virtualization, "CIM_ConcreteJob", ["InstanceID"]),
        ["Win32_ComputerSystem"] = (Cimv2, null, ["Name"]),
        ["Win32_Processor"] = (Cimv2, null, ["DeviceID"]),
        ["Win32_OperatingSystem"] = (Cimv2, null, ["Name"]),
        ["Win32_LogicalDisk"] = (Cimv2, null, ["DeviceID"]),
        ["CIM_DataFile"] = (Cimv2, null, ["Name"]),
    };

    public static bool IsKnown(string className) => Classes.ContainsKey(className);

    public static string NamespaceOf(string className) => Classes.TryGetValue(className, out var c) ? c.Namespace : Virtualization;

    public static IReadOnlyList<string> KeysOf(string className) => Classes.TryGetValue(className, out var c) ? c.Keys : ["InstanceID"];

    /// <summary>Whether <paramref name="className"/> is <paramref name="baseName"/> or derives from it.</summary>
    public static bool IsA(string className, string baseName)
    {
        for (string? current = className; current is not null; current = Classes.TryGetValue(current, out var c) ? c.Parent : null)
        {
            if (string.Equals(current, baseName, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The canonical spelling of a known class name.</summary>
    public static string Canonical(string className) => Classes.Keys.FirstOrDefault(k => string.Equals(k, className, StringComparison.OrdinalIgnoreCase)) ?? className;
}
