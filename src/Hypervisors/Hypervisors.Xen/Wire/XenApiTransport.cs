namespace Hypervisors.Xen.Wire;

/// <summary>Which XenAPI wire protocol a client speaks.</summary>
public enum XenApiTransport
{
    /// <summary>XML-RPC, POSTed to <c>/</c>: every XenAPI server.</summary>
    XmlRpc,

    /// <summary>JSON-RPC 2.0, POSTed to <c>/jsonrpc</c>: XCP-ng and XenServer 7.3 and later.</summary>
    JsonRpc,
}
