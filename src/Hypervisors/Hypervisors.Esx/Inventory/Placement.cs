using Hypervisors.Esx.Wire;

namespace Hypervisors.Esx.Inventory;

/// <summary>Where the driver creates VMs and what it reads host resources from, resolved once at connect.</summary>
internal sealed record Placement(
    ManagedObjectReference Datacenter,
    ManagedObjectReference ComputeResource,
    string ComputeResourceName,
    IReadOnlyList<ManagedObjectReference> Hosts,
    ManagedObjectReference ResourcePool,
    ManagedObjectReference Datastore,
    string DatastoreName,
    ManagedObjectReference Folder,
    IReadOnlyDictionary<string, ManagedObjectReference> Networks)
{
    /// <summary>Resolves the placement from the options' names, taking the first object found where a name is not given.</summary>
    public static async Task<Placement> ResolveAsync(VimClient client, EsxDriverOptions options, CancellationToken cancellationToken)
    {
        var dcs = await ListInContainerAsync(client, client.Content.RootFolder, "Datacenter", ["name", "vmFolder", "hostFolder", "datastoreFolder", "networkFolder"], cancellationToken).ConfigureAwait(false);
        var dc = Pick(dcs, options.Datacenter, "datacenter");

        var computeResources = await ListInContainerAsync(client, dc.Properties["hostFolder"].AsRef(), "ComputeResource", ["name", "resourcePool", "host"], cancellationToken).ConfigureAwait(false);
        var cr = Pick(computeResources, options.ComputeResource, "compute resource or cluster");
        var pool = cr.Properties["resourcePool"].AsRef();
        if (options.ResourcePool is { } poolName)
        {
            var pools = await ListInContainerAsync(client, cr.Obj, "ResourcePool", ["name"], cancellationToken).ConfigureAwait(false);
            pool = Pick(pools, poolName, "resource pool").Obj;
        }

        var datastores = await ListInContainerAsync(client, dc.Properties["datastoreFolder"].AsRef(), "Datastore", ["name", "summary.accessible"], cancellationToken).ConfigureAwait(false);
        var datastore = Pick(datastores.Where(d => options.Datastore is not null || d.Text("summary.accessible") != "false").ToList(), options.Datastore, "datastore");

        var folder = dc.Properties["vmFolder"].AsRef();
        if (options.Folder is { } folderName)
        {
            var folders = await ListInContainerAsync(client, folder, "Folder", ["name"], cancellationToken).ConfigureAwait(false);
            folder = Pick(folders, folderName, "VM folder").Obj;
        }

        var networks = await ListInContainerAsync(client, dc.Properties["networkFolder"].AsRef(), "Network", ["name"], cancellationToken).ConfigureAwait(false);
        return new Placement(
            dc.Obj,
            cr.Obj,
            cr.Text("name") ?? cr.Obj.Value,
            Refs(cr, "host"),
            pool,
            datastore.Obj,
            datastore.Text("name")!,
            folder,
            networks.GroupBy(n => n.Text("name") ?? n.Obj.Value, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Obj, StringComparer.Ordinal));
    }

    /// <summary>Creates a container view (<c>CreateContainerView</c>) of <paramref name="type"/> under <paramref name="container"/>.</summary>
    public static Task<ManagedObjectReference> CreateViewAsync(VimClient client, ManagedObjectReference container, string type, CancellationToken cancellationToken) =>
        client.InvokeAsync("CreateContainerView", client.Content.ViewManager,
            w => w.Ref("container", container).Element("type", type).Element("recursive", true),
            r => r.Child("returnval")!.AsRef(), cancellationToken);

    /// <summary>Destroys a view (<c>DestroyView</c>).</summary>
    public static Task DestroyViewAsync(VimClient client, ManagedObjectReference view, CancellationToken cancellationToken) =>
        client.InvokeAsync("DestroyView", view, null, _ => true, cancellationToken, sessionScoped: true);

    private static async Task<List<ObjectContent>> ListInContainerAsync(VimClient client, ManagedObjectReference container, string type, string[] paths, CancellationToken cancellationToken)
    {
        var view = await CreateViewAsync(client, container, type, cancellationToken).ConfigureAwait(false);
        try
        {
            return await client.RetrievePropertiesAsync(w => PropertySpecs.ForView(w, view, type, paths), cancellationToken, sessionScoped: true).ConfigureAwait(false);
        }
        finally
        {
            await DestroyViewAsync(client, view, cancellationToken).ConfigureAwait(false);
        }
    }

    private static List<ManagedObjectReference> Refs(ObjectContent content, string path) =>
        content.Properties.TryGetValue(path, out var array) ? array.Elements().Select(e => e.AsRef()).ToList() : [];

    private static ObjectContent Pick(IReadOnlyList<ObjectContent> candidates, string? name, string what)
    {
        if (name is null)
        {
            return candidates.OrderBy(c => c.Text("name"), StringComparer.Ordinal).FirstOrDefault()
                ?? throw new HypervisorException(HypervisorErrorKind.NotFound, $"The vSphere endpoint has no {what}.");
        }

        return candidates.FirstOrDefault(c => c.Text("name") == name)
            ?? throw new HypervisorException(HypervisorErrorKind.NotFound,
                $"No {what} is named '{name}'; found: {string.Join(", ", candidates.Select(c => c.Text("name")))}.");
    }
}
