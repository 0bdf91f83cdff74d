using System.Xml.Linq;

namespace Hypervisors.Esx.Wire;

/// <summary>One object's changes in an <c>UpdateSet</c>.</summary>
/// <param name="Filter">The filter that reported it.</param>
/// <param name="Obj">The object.</param>
/// <param name="Kind">"enter", "modify" or "leave".</param>
/// <param name="Changes">Property path to new value (null when the property was removed or is unset).</param>
internal sealed record ObjectUpdate(ManagedObjectReference Filter, ManagedObjectReference Obj, string Kind, IReadOnlyList<KeyValuePair<string, XElement?>> Changes);

/// <summary>An <c>UpdateSet</c>: the version to wait from next and the updates.</summary>
internal sealed record UpdateSet(string Version, IReadOnlyList<ObjectUpdate> Updates);

internal sealed partial class VimClient
{
    /// <summary>Creates a PropertyCollector of this session (<c>CreatePropertyCollector</c>).</summary>
    public Task<ManagedObjectReference> CreatePropertyCollectorAsync(CancellationToken cancellationToken) =>
        InvokeAsync("CreatePropertyCollector", Content.PropertyCollector, null, r => r.Child("returnval")!.AsRef(), cancellationToken);

    /// <summary>Destroys a PropertyCollector and its filters.</summary>
    public Task DestroyPropertyCollectorAsync(ManagedObjectReference collector, CancellationToken cancellationToken) =>
        InvokeAsync("DestroyPropertyCollector", collector, null, _ => true, cancellationToken, sessionScoped: true);

    /// <summary>Creates a filter (its spec written by <paramref name="writeSpec"/>) on <paramref name="collector"/>.</summary>
    public Task<ManagedObjectReference> CreateFilterAsync(ManagedObjectReference collector, Action<VimWriter> writeSpec, CancellationToken cancellationToken) =>
        InvokeAsync("CreateFilter", collector, w =>
        {
            w.Start("spec");
            writeSpec(w);
            w.End().Element("partialUpdates", false);
        }, r => r.Child("returnval")!.AsRef(), cancellationToken, sessionScoped: true);

    /// <summary>Destroys a filter (<c>DestroyPropertyFilter</c>).</summary>
    public Task DestroyPropertyFilterAsync(ManagedObjectReference filter, CancellationToken cancellationToken) =>
        InvokeAsync("DestroyPropertyFilter", filter, null, _ => true, cancellationToken, sessionScoped: true);

    /// <summary>
    /// <c>WaitForUpdatesEx</c>: with a null <paramref name="version"/>, the current state of every filter at once;
    /// otherwise the changes since that version, waiting up to <paramref name="maxWait"/>. Null when nothing changed in time.
    /// </summary>
    public Task<UpdateSet?> WaitForUpdatesAsync(ManagedObjectReference collector, string? version, TimeSpan maxWait, CancellationToken cancellationToken) =>
        InvokeAsync("WaitForUpdatesEx", collector, w =>
        {
            if (version is not null)
            {
                w.Element("version", version);
            }

            w.Start("options").Element("maxWaitSeconds", (long)maxWait.TotalSeconds).End();
        }, ReadUpdateSet, cancellationToken, sessionScoped: true, extraTimeout: maxWait);

    /// <summary>Reads a <c>WaitForUpdatesEx</c> response.</summary>
    internal static UpdateSet? ReadUpdateSet(XElement response)
    {
        var set = response.Child("returnval");
        if (set is null)
        {
            return null;
        }

        var updates = new List<ObjectUpdate>();
        foreach (var filterSet in set.Children("filterSet"))
        {
            var filter = filterSet.Child("filter")!.AsRef();
            foreach (var objectSet in filterSet.Children("objectSet"))
            {
                var changes = objectSet.Children("changeSet")
                    .Select(c => new KeyValuePair<string, XElement?>(c.ChildText("name") ?? string.Empty, c.ChildText("op") == "remove" ? null : c.Child("val")))
                    .ToList();
                foreach (var missing in objectSet.Children("missingSet"))
                {
                    if (missing.Child("fault")?.Child("fault")?.XsiType() is "NotAuthenticated")
                    {
                        throw new VimFaultException("NotAuthenticated", "The update carries no properties: the session is not authenticated.");
                    }
                }

                updates.Add(new ObjectUpdate(filter, objectSet.Child("obj")!.AsRef(), objectSet.ChildText("kind") ?? "modify", changes));
            }
        }

        return new UpdateSet(set.ChildText("version") ?? string.Empty, updates);
    }
}
