using System.Xml.Linq;

namespace Hypervisors.HyperV.Wire;

/// <summary>XML namespaces, action URIs and resource URIs of WS-Management (DSP0226) as WinRM speaks it.</summary>
internal static class WsManNames
{
    public static readonly XNamespace Soap = "http://www.w3.org/2003/05/soap-envelope";
    public static readonly XNamespace Addressing = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
    public static readonly XNamespace Enumeration = "http://schemas.xmlsoap.org/ws/2004/09/enumeration";
    public static readonly XNamespace WsMan = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd";
    public static readonly XNamespace MicrosoftWsMan = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd";
    public static readonly XNamespace WsManFault = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault";
    public static readonly XNamespace Xsi = "http://www.w3.org/2001/XMLSchema-instance";
    public static readonly XNamespace CimCommon = "http://schemas.dmtf.org/wbem/wscim/1/common";

    public const string AnonymousAddress = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous";
    public const string WqlDialect = "http://schemas.microsoft.com/wbem/wsman/1/WQL";

    public const string ActionGet = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get";
    public const string ActionGetResponse = "http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse";
    public const string ActionEnumerate = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate";
    public const string ActionEnumerateResponse = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/EnumerateResponse";
    public const string ActionPull = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull";
    public const string ActionPullResponse = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/PullResponse";
    public const string ActionRelease = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Release";
    public const string ActionFault = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault";

    /// <summary>The prefix of every WMI resource URI; the WMI namespace path and class name follow.</summary>
    public const string WmiResourcePrefix = "http://schemas.microsoft.com/wbem/wsman/1/wmi/";

    /// <summary>The resource URI of <paramref name="className"/> in the WMI namespace <paramref name="wmiNamespace"/> ("root/virtualization/v2").</summary>
    public static Uri ResourceUri(string wmiNamespace, string className) => new(WmiResourcePrefix + wmiNamespace + "/" + className);

    /// <summary>The wildcard resource URI that WQL enumerations in <paramref name="wmiNamespace"/> go to.</summary>
    public static Uri WildcardResourceUri(string wmiNamespace) => new(WmiResourcePrefix + wmiNamespace + "/*");
}
