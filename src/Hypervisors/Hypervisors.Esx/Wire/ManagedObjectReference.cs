namespace Hypervisors.Esx.Wire;

/// <summary>A vSphere managed object reference: its type ("VirtualMachine") and its id ("vm-42").</summary>
/// <param name="Type">The managed object type.</param>
/// <param name="Value">The server's id for the object.</param>
internal readonly record struct ManagedObjectReference(string Type, string Value)
{
    /// <inheritdoc />
    public override string ToString() => Type + ":" + Value;
}
