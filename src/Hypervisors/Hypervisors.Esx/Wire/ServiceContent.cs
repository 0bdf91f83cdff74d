using System.Xml.Linq;

namespace Hypervisors.Esx.Wire;

/// <summary>The parts of the endpoint's <c>ServiceContent</c> the driver uses.</summary>
internal sealed record ServiceContent(
    ManagedObjectReference RootFolder,
    ManagedObjectReference PropertyCollector,
    ManagedObjectReference ViewManager,
    ManagedObjectReference SearchIndex,
    ManagedObjectReference SessionManager,
    string ApiType,
    string Version,
    string FullName)
{
    /// <summary>Whether the endpoint is vCenter ("VirtualCenter") rather than a standalone host ("HostAgent").</summary>
    public bool IsVCenter => ApiType == "VirtualCenter";

    internal static ServiceContent Read(XElement returnval)
    {
        var about = returnval.Child("about");
        return new ServiceContent(
            Required(returnval, "rootFolder"),
            Required(returnval, "propertyCollector"),
            Required(returnval, "viewManager"),
            Required(returnval, "searchIndex"),
            Required(returnval, "sessionManager"),
            about?.ChildText("apiType") ?? "HostAgent",
            about?.ChildText("version") ?? string.Empty,
            about?.ChildText("fullName") ?? string.Empty);
    }

    private static ManagedObjectReference Required(XElement element, string name) =>
        element.ChildRef(name) ?? throw new VimFaultException("InvalidResponse", $"The service content has no {name}.");
}
