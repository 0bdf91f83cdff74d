using System.Xml.Linq;

namespace Hypervisors.Esx.Wire;

/// <summary>An object's properties as the PropertyCollector returned them, keyed by property path.</summary>
/// <param name="Obj">The object.</param>
/// <param name="Properties">Each returned property's <c>val</c> element.</param>
internal sealed record ObjectContent(ManagedObjectReference Obj, IReadOnlyDictionary<string, XElement> Properties)
{
    /// <summary>The text of a property, or null when it was not returned.</summary>
    public string? Text(string path) => Properties.TryGetValue(path, out var v) ? v.Value : null;
}

internal sealed partial class VimClient
{
    /// <summary>
    /// <c>RetrievePropertiesEx</c> for one filter spec (written by <paramref name="writeSpec"/> inside
    /// <c>specSet</c>), following <c>ContinueRetrievePropertiesEx</c> tokens until every page is read.
    /// </summary>
    public async Task<List<ObjectContent>> RetrievePropertiesAsync(Action<VimWriter> writeSpec, CancellationToken cancellationToken, bool sessionScoped = false)
    {
        var collector = Content.PropertyCollector;
        var result = new List<ObjectContent>();
        var page = await InvokeAsync("RetrievePropertiesEx", collector, w =>
        {
            w.Start("specSet");
            writeSpec(w);
            w.End().Start("options").Element("maxObjects", _options.PageSize).End();
        }, ReadRetrieveResult, cancellationToken, sessionScoped).ConfigureAwait(false);
        result.AddRange(page.Objects);
        while (page.Token is { } token)
        {
            page = await InvokeAsync("ContinueRetrievePropertiesEx", collector, w => w.Element("token", token), ReadRetrieveResult, cancellationToken, sessionScoped).ConfigureAwait(false);
            result.AddRange(page.Objects);
        }

        return result;
    }

    /// <summary>Reads one object's properties; throws <c>ManagedObjectNotFound</c> when it is gone.</summary>
    public async Task<ObjectContent> RetrieveObjectAsync(ManagedObjectReference obj, IReadOnlyList<string> paths, CancellationToken cancellationToken)
    {
        var objects = await RetrievePropertiesAsync(w => PropertySpecs.ForObject(w, obj, paths), cancellationToken).ConfigureAwait(false);
        return objects.FirstOrDefault(o => o.Obj == obj) ?? throw new VimFaultException("ManagedObjectNotFound", $"{obj} was not returned.");
    }

    /// <summary>Reads the objects of a <c>RetrieveResult</c> (a response's <c>returnval</c>) and its paging token.</summary>
    internal static (List<ObjectContent> Objects, string? Token) ReadRetrieveResult(XElement response)
    {
        var objects = new List<ObjectContent>();
        var returnval = response.Child("returnval");
        if (returnval is null)
        {
            return (objects, null);
        }

        foreach (var content in returnval.Children("objects"))
        {
            objects.Add(ReadObjectContent(content));
        }

        return (objects, returnval.ChildText("token"));
    }

    /// <summary>Reads an <c>ObjectContent</c>; a property missing for want of a session is a <c>NotAuthenticated</c> fault.</summary>
    internal static ObjectContent ReadObjectContent(XElement content)
    {
        var properties = new Dictionary<string, XElement>(StringComparer.Ordinal);
        foreach (var prop in content.Children("propSet"))
        {
            if (prop.ChildText("name") is { } name && prop.Child("val") is { } val)
            {
                properties[name] = val;
            }
        }

        foreach (var missing in content.Children("missingSet"))
        {
            var fault = missing.Child("fault")?.Child("fault");
            if (fault?.XsiType() is "NotAuthenticated")
            {
                throw new VimFaultException("NotAuthenticated", "The server returned no properties: the session is not authenticated.");
            }
        }

        return new ObjectContent(content.Child("obj")!.AsRef(), properties);
    }
}

/// <summary>Writers of <c>PropertyFilterSpec</c> contents (inside <c>specSet</c> or <c>spec</c>).</summary>
internal static class PropertySpecs
{
    /// <summary>Properties <paramref name="paths"/> of one object.</summary>
    public static void ForObject(VimWriter w, ManagedObjectReference obj, IReadOnlyList<string> paths)
    {
        ArgumentNullException.ThrowIfNull(w);
        PropSet(w, obj.Type, paths);
        w.Start("objectSet").Ref("obj", obj).End();
    }

    /// <summary>Properties <paramref name="paths"/> of every object of <paramref name="type"/> in a container view.</summary>
    public static void ForView(VimWriter w, ManagedObjectReference view, string type, IReadOnlyList<string> paths)
    {
        ArgumentNullException.ThrowIfNull(w);
        PropSet(w, type, paths);
        w.Start("objectSet").Ref("obj", view).Element("skip", true)
            .Start("selectSet", "TraversalSpec").Element("name", "view").Element("type", "ContainerView").Element("path", "view").Element("skip", false).End()
            .End();
    }

    private static void PropSet(VimWriter w, string type, IReadOnlyList<string> paths)
    {
        w.Start("propSet").Element("type", type);
        foreach (var path in paths)
        {
            w.Element("pathSet", path);
        }

        w.End();
    }
}
