namespace Hypervisors.Esx;

/// <summary>
/// An OVF package to import as one instance through vSphere's own import (<see cref="EsxDriver.ImportOvfAsync"/>).
/// </summary>
/// <param name="Spec">
/// The instance: its id and name name the VM, its metadata is kept; its sizes are replaced by what the descriptor
/// makes (after the deployment option), which get and list then report.
/// </param>
/// <param name="OvfDescriptor">The descriptor's text, as read from the package (vSphere parses it).</param>
/// <param name="OpenFile">Opens a file the descriptor references, by its <c>ovf:href</c> (read once, then disposed).</param>
public sealed record EsxOvfImport(InstanceSpec Spec, string OvfDescriptor, Func<string, CancellationToken, Task<Stream>> OpenFile)
{
    /// <summary>The descriptor's deployment option to import; its default when null.</summary>
    public string? DeploymentOption { get; init; }

    /// <summary>Which vSphere network (by name) each network of the descriptor (by name) is connected to.</summary>
    public IReadOnlyDictionary<string, string> NetworkMapping { get; init; } = new Dictionary<string, string>();

    /// <summary>Values of the descriptor's ProductSection properties, by key.</summary>
    public IReadOnlyDictionary<string, string> Properties { get; init; } = new Dictionary<string, string>();
}
