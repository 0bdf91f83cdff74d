using Microsoft.Extensions.Configuration;

[assembly: Hypervisors.HypervisorDriverKind(typeof(Hypervisors.HyperV.HyperVDriverKind))]

namespace Hypervisors.HyperV;

/// <summary>Registers the Hyper-V driver with <see cref="HypervisorsBuilder"/>.</summary>
public static class HyperVHypervisorsBuilderExtensions
{
    /// <summary>
    /// Adds a Hyper-V driver named <paramref name="name"/> bound from <paramref name="section"/> (<c>Url</c> or
    /// <c>Host</c>, <c>UserName</c>, <c>PasswordFile</c>, <c>Tls:PinnedSha256Thumbprints</c>, ...); the options are
    /// validated when the host starts.
    /// </summary>
    public static HypervisorsBuilder AddHyperV(this HypervisorsBuilder builder, string name, IConfigurationSection section) =>
        builder.AddDriverOfKind<HyperVDriverKind>(name, section);

    /// <summary>
    /// Adds a Hyper-V driver named <paramref name="name"/> configured in code:
    /// <code>services.AddHypervisors(h => h.AddHyperV("hv1", o =&gt; { o.Host = "hv1.example"; o.UserName = "svc"; o.PasswordFile = "/run/secrets/hv1"; }));</code>
    /// </summary>
    public static HypervisorsBuilder AddHyperV(this HypervisorsBuilder builder, string name, Action<HyperVDriverOptions> configure) =>
        new HyperVDriverKind().AddDriver(builder, name, configure);
}

/// <summary>The <c>hyperv</c> driver kind: <c>Kind = "hyperv"</c> in a driver's configuration section.</summary>
public sealed class HyperVDriverKind : HypervisorDriverKind<HyperVDriverOptions>
{
    /// <inheritdoc />
    public override string Kind => "hyperv";

    /// <inheritdoc />
    protected override IHypervisorDriver Create(DriverServices services, HyperVDriverOptions options) =>
        new HyperVDriver(options, services.Logger<HyperVDriver>(), services.TimeProvider);
}
