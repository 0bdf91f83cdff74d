using System.Globalization;
using System.Text;
using System.Xml;
using HyperVSimulator.Cim;
using HyperVSimulator.Virtualization;

namespace HyperVSimulator.WsMan;

/// <summary>Writes response envelopes with <see cref="XmlWriter"/>.</summary>
public static class ResponseWriter
{
    public const string FaultAction = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault";

    public static byte[] Envelope(string action, string? relatesTo, Action<XmlWriter> writeBody)
    {
        using var buffer = new MemoryStream();
        using (var w = XmlWriter.Create(buffer, new XmlWriterSettings { Encoding = new UTF8Encoding(false) }))
        {
            w.WriteStartElement("s", "Envelope", Ns.Soap.NamespaceName);
            w.WriteAttributeString("xml", "lang", null, "en-US");
            w.WriteAttributeString("xmlns", "wsa", null, Ns.Wsa.NamespaceName);
            w.WriteAttributeString("xmlns", "wsen", null, Ns.Wsen.NamespaceName);
            w.WriteAttributeString("xmlns", "wsman", null, Ns.Wsman.NamespaceName);
            w.WriteAttributeString("xmlns", "xsi", null, Ns.Xsi.NamespaceName);
            w.WriteAttributeString("xmlns", "cim", null, Ns.Cim.NamespaceName);
            w.WriteStartElement("Header", Ns.Soap.NamespaceName);
            w.WriteElementString("To", Ns.Wsa.NamespaceName, Ns.Anonymous);
            w.WriteElementString("Action", Ns.Wsa.NamespaceName, action);
            w.WriteElementString("MessageID", Ns.Wsa.NamespaceName, "uuid:" + Guid.NewGuid().ToString("D").ToUpperInvariant());
            if (relatesTo is not null)
            {
                w.WriteElementString("RelatesTo", Ns.Wsa.NamespaceName, relatesTo);
            }

            w.WriteEndElement();
            w.WriteStartElement("Body", Ns.Soap.NamespaceName);
            writeBody(w);
            w.WriteEndElement();
            w.WriteEndElement();
        }

        return buffer.ToArray();
    }

    public static void Instance(XmlWriter w, CimObject instance)
    {
        var uri = Ns.WmiPrefix + instance.Namespace + "/" + instance.ClassName;
        w.WriteStartElement("p", instance.ClassName, uri);
        w.WriteAttributeString("type", Ns.Xsi.NamespaceName, "p:" + instance.ClassName + "_Type");
        foreach (var (name, value) in instance.Properties)
        {
            switch (value)
            {
                case null:
                    w.WriteStartElement(name, uri);
                    w.WriteAttributeString("nil", Ns.Xsi.NamespaceName, "true");
                    w.WriteEndElement();
                    break;
                case List<string> list:
                    foreach (var item in list)
                    {
                        w.WriteElementString(name, uri, item);
                    }

                    break;
                case CimDateTime time:
                    w.WriteStartElement(name, uri);
                    w.WriteElementString("Datetime", Ns.Cim.NamespaceName, time.ToString());
                    w.WriteEndElement();
                    break;
                default:
                    w.WriteElementString(name, uri, Convert.ToString(value, CultureInfo.InvariantCulture));
                    break;
            }
        }

        w.WriteEndElement();
    }

    /// <summary>Writes the Address and ReferenceParameters of an endpoint reference into the current element.</summary>
    public static void ReferenceContent(XmlWriter w, CimReference reference)
    {
        w.WriteElementString("Address", Ns.Wsa.NamespaceName, Ns.Anonymous);
        w.WriteStartElement("ReferenceParameters", Ns.Wsa.NamespaceName);
        w.WriteElementString("ResourceURI", Ns.Wsman.NamespaceName, Ns.WmiPrefix + CimSchema.NamespaceOf(reference.ClassName) + "/" + reference.ClassName);
        w.WriteStartElement("SelectorSet", Ns.Wsman.NamespaceName);
        foreach (var (name, value) in reference.Keys.Append(new("__cimnamespace", CimSchema.NamespaceOf(reference.ClassName))))
        {
            w.WriteStartElement("Selector", Ns.Wsman.NamespaceName);
            w.WriteAttributeString("Name", name);
            w.WriteString(value);
            w.WriteEndElement();
        }

        w.WriteEndElement();
        w.WriteEndElement();
    }

    public static void EndpointReference(XmlWriter w, CimReference reference)
    {
        w.WriteStartElement("EndpointReference", Ns.Wsa.NamespaceName);
        ReferenceContent(w, reference);
        w.WriteEndElement();
    }

    public static byte[] Fault(WsManFaultException fault, string? relatesTo, string machine)
    {
        var sender = fault.Subcode is not ("wsman:InternalError" or "wsa:EndpointUnavailable");
        return Envelope(FaultAction, relatesTo, w =>
        {
            w.WriteStartElement("Fault", Ns.Soap.NamespaceName);
            w.WriteStartElement("Code", Ns.Soap.NamespaceName);
            w.WriteElementString("Value", Ns.Soap.NamespaceName, sender ? "s:Sender" : "s:Receiver");
            w.WriteStartElement("Subcode", Ns.Soap.NamespaceName);
            w.WriteElementString("Value", Ns.Soap.NamespaceName, fault.Subcode);
            w.WriteEndElement();
            w.WriteEndElement();
            w.WriteStartElement("Reason", Ns.Soap.NamespaceName);
            w.WriteStartElement("Text", Ns.Soap.NamespaceName);
            w.WriteAttributeString("xml", "lang", null, "en-US");
            w.WriteString(fault.Message);
            w.WriteEndElement();
            w.WriteEndElement();
            w.WriteStartElement("Detail", Ns.Soap.NamespaceName);
            if (fault.CimStatus is { } status)
            {
                const string WmiError = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/MSFT_WmiError";
                w.WriteStartElement("p", "MSFT_WmiError", WmiError);
                w.WriteAttributeString("b", "IsCIM_Error", Ns.CimBinding.NamespaceName, "true");
                w.WriteAttributeString("type", Ns.Xsi.NamespaceName, "p:MSFT_WmiError_Type");
                WriteTyped(w, WmiError, "CIMStatusCode", "cim:cimUnsignedInt", status.ToString(CultureInfo.InvariantCulture));
                WriteTyped(w, WmiError, "Message", "cim:cimString", fault.Message);
                WriteTyped(w, WmiError, "ErrorType", "cim:cimUnsignedShort", "0");
                w.WriteEndElement();
            }
            else
            {
                w.WriteStartElement("f", "WSManFault", Ns.WsmanFault.NamespaceName);
                w.WriteAttributeString("Machine", machine);
                w.WriteElementString("Message", Ns.WsmanFault.NamespaceName, fault.Message);
                w.WriteEndElement();
            }

            w.WriteEndElement();
            w.WriteEndElement();
        });
    }

    private static void WriteTyped(XmlWriter w, string ns, string name, string type, string value)
    {
        w.WriteStartElement(name, ns);
        w.WriteAttributeString("type", Ns.Xsi.NamespaceName, type);
        w.WriteString(value);
        w.WriteEndElement();
    }
}
