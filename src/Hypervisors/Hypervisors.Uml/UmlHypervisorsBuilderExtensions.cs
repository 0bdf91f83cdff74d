using Microsoft.Extensions.Configuration;

[assembly: Hypervisors.HypervisorDriverKind(typeof(Hypervisors.Uml.UmlDriverKind))]

namespace Hypervisors.Uml;

/// <summary>Registers User Mode Linux drivers.</summary>
public static class UmlHypervisorsBuilderExtensions
{
    /// <summary>Adds a UML driver under <paramref name="name"/>, its options bound from <paramref name="section"/> and checked at start.</summary>
    public static HypervisorsBuilder AddUml(this HypervisorsBuilder builder, string name, IConfigurationSection section) =>
        builder.AddDriverOfKind<UmlDriverKind>(name, section);

    /// <summary>
    /// Adds a UML driver under <paramref name="name"/>:
    /// <code>services.AddHypervisors(h => h.AddUml("uml", o => o.StateDirectory = "/var/lib/hypervisors/uml"));</code>
    /// </summary>
    public static HypervisorsBuilder AddUml(this HypervisorsBuilder builder, string name, Action<UmlDriverOptions> configure) =>
        new UmlDriverKind().AddDriver(builder, name, configure);
}

/// <summary>The driver kind <c>uml</c>: <c>Agent:Drivers:{name}:Kind = uml</c> hosts a <see cref="UmlDriver"/>.</summary>
public sealed class UmlDriverKind : HypervisorDriverKind<UmlDriverOptions>
{
    /// <inheritdoc />
    public override string Kind => "uml";

    /// <inheritdoc />
    protected override IHypervisorDriver Create(DriverServices services, UmlDriverOptions options) =>
        new UmlDriver(options, services.Logger<UmlDriver>(), services.TimeProvider);
}
