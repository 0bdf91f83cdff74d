using Microsoft.Extensions.Configuration;

[assembly: Hypervisors.HypervisorDriverKind(typeof(Hypervisors.Esx.EsxDriverKind))]

namespace Hypervisors.Esx;

/// <summary>Registers the ESX driver with <see cref="HypervisorsBuilder"/>.</summary>
public static class EsxHypervisorsBuilderExtensions
{
    /// <summary>
    /// Adds an ESX/vCenter driver named <paramref name="name"/> bound from <paramref name="section"/>
    /// (<c>Url</c>, <c>UserName</c>, <c>PasswordFile</c>, <c>Tls:PinnedSha256Thumbprints</c>, <c>Datacenter</c>, ...).
    /// The options are validated when the host starts; the driver connects on first use.
    /// </summary>
    public static HypervisorsBuilder AddEsx(this HypervisorsBuilder builder, string name, IConfigurationSection section) =>
        builder.AddDriverOfKind<EsxDriverKind>(name, section);

    /// <summary>
    /// Adds an ESX/vCenter driver named <paramref name="name"/> configured in code:
    /// <code>services.AddHypervisors(h => h.AddEsx("vc1", o =&gt; { o.Url = new("https://vc1/sdk"); o.UserName = "ops"; o.PasswordFile = "/run/secrets/vc1"; }));</code>
    /// </summary>
    public static HypervisorsBuilder AddEsx(this HypervisorsBuilder builder, string name, Action<EsxDriverOptions> configure) =>
        new EsxDriverKind().AddDriver(builder, name, configure);
}

/// <summary>The <c>esx</c> driver kind: <c>Kind = "esx"</c> in a driver's configuration section.</summary>
public sealed class EsxDriverKind : HypervisorDriverKind<EsxDriverOptions>
{
    /// <inheritdoc />
    public override string Kind => "esx";

    /// <inheritdoc />
    protected override IHypervisorDriver Create(DriverServices services, EsxDriverOptions options) =>
        new EsxDriver(options, services.Logger<EsxDriver>(), services.TimeProvider);
}
