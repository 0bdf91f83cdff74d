using Microsoft.Extensions.Configuration;

[assembly: Hypervisors.HypervisorDriverKind(typeof(Hypervisors.Xen.XenDriverKind))]

namespace Hypervisors.Xen;

/// <summary>Registers <see cref="XenDriver"/> with <see cref="HypervisorsBuilder"/>.</summary>
public static class XenHypervisorsBuilderExtensions
{
    /// <summary>
    /// Adds a Xen driver named <paramref name="name"/> bound from <paramref name="section"/> (<c>Url</c>,
    /// <c>UserName</c>, <c>PasswordFile</c>, <c>Transport</c>, <c>Tls:PinnedSha256Thumbprints</c>, ...); the options are
    /// validated when the host starts.
    /// </summary>
    public static HypervisorsBuilder AddXen(this HypervisorsBuilder builder, string name, IConfigurationSection section) =>
        builder.AddDriverOfKind<XenDriverKind>(name, section);

    /// <summary>
    /// Adds a Xen driver named <paramref name="name"/> configured in code:
    /// <code>services.AddHypervisors(h => h.AddXen("pool1", o => { o.Url = new("https://xcp/"); o.UserName = "root"; o.PasswordFile = "/run/secrets/xcp"; }));</code>
    /// </summary>
    public static HypervisorsBuilder AddXen(this HypervisorsBuilder builder, string name, Action<XenDriverOptions> configure) =>
        new XenDriverKind().AddDriver(builder, name, configure);
}

/// <summary>The <c>xen</c> driver kind: <c>Kind = "xen"</c> in a driver's configuration section.</summary>
public sealed class XenDriverKind : HypervisorDriverKind<XenDriverOptions>
{
    /// <inheritdoc />
    public override string Kind => "xen";

    /// <inheritdoc />
    protected override IHypervisorDriver Create(DriverServices services, XenDriverOptions options) =>
        new XenDriver(options, services.Logger<XenDriver>(), services.TimeProvider);
}
