using System.Xml.Linq;

namespace Hypervisors.Esx.Wire;

/// <summary>
/// A vSphere fault as the server sent it (a SOAP fault or a task's <c>info.error</c>). It never leaves the driver:
/// <see cref="Mapping.VimErrorMap"/> turns it into the contract's typed error.
/// </summary>
internal sealed class VimFaultException : Exception
{
    /// <summary>Creates a fault of <paramref name="faultType"/> ("InvalidPowerState", "ManagedObjectNotFound", ...).</summary>
    public VimFaultException(string faultType, string message, XElement? detail = null)
        : base(string.IsNullOrEmpty(message) ? faultType : faultType + ": " + message)
    {
        FaultType = faultType;
        Detail = detail;
    }

    /// <summary>The vim25 fault type without the "Fault" suffix of its detail element.</summary>
    public string FaultType { get; }

    /// <summary>The fault's own element (its fields are children in the vim25 namespace), when there is one.</summary>
    public XElement? Detail { get; }

    /// <summary>Reads a fault from a <c>MethodFault</c> element, naming it by <c>xsi:type</c> or by the element name.</summary>
    public static VimFaultException FromFaultElement(XElement fault, string message)
    {
        var type = fault.XsiType() ?? fault.Name.LocalName;
        if (type.EndsWith("Fault", StringComparison.Ordinal) && fault.XsiType() is null)
        {
            type = type[..^"Fault".Length];
        }

        return new VimFaultException(type, message, fault);
    }

    /// <summary>Reads a SOAP <c>Fault</c> element (faultstring and detail).</summary>
    public static VimFaultException FromSoapFault(XElement soapFault)
    {
        var message = soapFault.Element("faultstring")?.Value ?? string.Empty;
        var detail = soapFault.Element("detail")?.Elements().FirstOrDefault();
        return detail is null
            ? new VimFaultException(soapFault.Element("faultcode")?.Value ?? "ServerFault", message)
            : FromFaultElement(detail, message);
    }

    /// <summary>Reads a <c>LocalizedMethodFault</c> (a task's error): its <c>fault</c> and <c>localizedMessage</c>.</summary>
    public static VimFaultException FromLocalizedFault(XElement localized)
    {
        var message = localized.ChildText("localizedMessage") ?? string.Empty;
        var fault = localized.Child("fault");
        return fault is null ? new VimFaultException("MethodFault", message) : FromFaultElement(fault, message);
    }
}
