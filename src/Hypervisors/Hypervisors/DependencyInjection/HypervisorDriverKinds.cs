using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Hypervisors;

/// <summary>
/// A kind of driver that can be added from configuration alone: the <c>Kind</c> value of a driver's section
/// (<c>"esx"</c>, <c>"libvirt"</c>, a third-party <c>"acme"</c>) and how to add a driver of that kind from the rest of
/// the section. Each driver package provides one and names it with <see cref="HypervisorDriverKindAttribute"/>, so a
/// host that loads the package can offer the kind without code of its own.
/// </summary>
public interface IHypervisorDriverKind
{
    /// <summary>The kind's name as written in configuration (1-63 of a-z, 0-9, '-', '_'; compared without case).</summary>
    string Kind { get; }

    /// <summary>Adds a driver named <paramref name="name"/> configured by <paramref name="section"/>.</summary>
    void AddDriver(HypervisorsBuilder builder, string name, IConfigurationSection section);
}

/// <summary>Names the <see cref="IHypervisorDriverKind"/> types an assembly provides, for <see cref="HypervisorDriverKinds.AddDriverKinds(HypervisorsBuilder, Assembly)"/>.</summary>
/// <param name="kindType">A type implementing <see cref="IHypervisorDriverKind"/> with a public parameterless constructor.</param>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
public sealed class HypervisorDriverKindAttribute(Type kindType) : Attribute
{
    /// <summary>The kind's type.</summary>
    public Type KindType { get; } = kindType ?? throw new ArgumentNullException(nameof(kindType));
}

/// <summary>
/// The registration point for driver kinds, and the one way a host adds drivers from configuration:
/// <code>
/// services.AddHypervisors(h => h
///     .AddDriverKinds(typeof(EsxDriver).Assembly)          // or AddDriverKind(new EsxDriverKind())
///     .AddDriversFromConfiguration(configuration.GetSection("Agent:Drivers")));
/// </code>
/// where each child of the section is a driver: its key is the driver's name and its <c>Kind</c> value picks the kind.
/// </summary>
public static class HypervisorDriverKinds
{
    /// <summary>The configuration key of a driver's kind inside its section.</summary>
    public const string KindKey = "Kind";

    /// <summary>Registers <paramref name="kind"/>; a second kind of the same name is refused.</summary>
    /// <exception cref="InvalidOperationException">A kind of that name is registered already.</exception>
    public static HypervisorsBuilder AddDriverKind(this HypervisorsBuilder builder, IHypervisorDriverKind kind)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(kind);
        HypervisorsBuilder.ValidateDriverName(kind.Kind.ToLowerInvariant());
        if (builder.Kinds.TryGetValue(kind.Kind, out var existing))
        {
            if (existing.GetType() == kind.GetType())
            {
                return builder; // the same package registered twice
            }

            throw new InvalidOperationException($"The driver kind '{kind.Kind}' is registered already by {existing.GetType().FullName}.");
        }

        builder.Kinds[kind.Kind] = kind;
        return builder;
    }

    /// <summary>Adds a driver of kind <typeparamref name="TKind"/> named <paramref name="name"/>, bound from <paramref name="section"/>.</summary>
    public static HypervisorsBuilder AddDriverOfKind<TKind>(this HypervisorsBuilder builder, string name, IConfigurationSection section)
        where TKind : IHypervisorDriverKind, new()
    {
        ArgumentNullException.ThrowIfNull(builder);
        new TKind().AddDriver(builder, name, section);
        return builder;
    }

    /// <summary>Registers a kind from a delegate.</summary>
    public static HypervisorsBuilder AddDriverKind(this HypervisorsBuilder builder, string kind, Action<HypervisorsBuilder, string, IConfigurationSection> addDriver) =>
        builder.AddDriverKind(new DelegateDriverKind(kind, addDriver));

    /// <summary>Registers every kind <paramref name="assembly"/> names with <see cref="HypervisorDriverKindAttribute"/>.</summary>
    public static HypervisorsBuilder AddDriverKinds(this HypervisorsBuilder builder, Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        foreach (var attribute in assembly.GetCustomAttributes<HypervisorDriverKindAttribute>())
        {
            if (!typeof(IHypervisorDriverKind).IsAssignableFrom(attribute.KindType))
            {
                throw new InvalidOperationException($"{attribute.KindType.FullName}, named by {assembly.GetName().Name}, does not implement {nameof(IHypervisorDriverKind)}.");
            }

            builder.AddDriverKind((IHypervisorDriverKind)Activator.CreateInstance(attribute.KindType)!);
        }

        return builder;
    }

    /// <summary>
    /// Adds one driver per child of <paramref name="drivers"/>: the child's key is the driver's name, its <c>Kind</c>
    /// picks a registered kind, and the kind binds the rest of the child.
    /// </summary>
    /// <exception cref="OptionsValidationException">A child has no <c>Kind</c>, names a kind not registered, or has a
    /// key that is not a valid driver name; the message names the key and lists the registered kinds.</exception>
    public static HypervisorsBuilder AddDriversFromConfiguration(this HypervisorsBuilder builder, IConfiguration drivers)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(drivers);
        var failures = new List<string>();
        var adds = new List<(IHypervisorDriverKind Kind, string Name, IConfigurationSection Section)>();
        foreach (var section in drivers.GetChildren())
        {
            var kindName = section[KindKey];
            try
            {
                HypervisorsBuilder.ValidateDriverName(section.Key);
            }
            catch (ArgumentException)
            {
                failures.Add($"{section.Path}: '{section.Key}' is not a valid driver name (1-63 characters of a-z, 0-9, '-' and '_').");
                continue;
            }

            if (string.IsNullOrWhiteSpace(kindName))
            {
                failures.Add($"{section.Path}:{KindKey}: is required; registered kinds: {Describe(builder)}.");
            }
            else if (!builder.Kinds.TryGetValue(kindName, out var kind))
            {
                failures.Add($"{section.Path}:{KindKey}: '{kindName}' is not a registered driver kind; registered kinds: {Describe(builder)}.");
            }
            else
            {
                adds.Add((kind, section.Key, section));
            }
        }

        if (failures.Count > 0)
        {
            throw new OptionsValidationException(drivers is IConfigurationSection { Path: var path } ? path : "Drivers", typeof(IHypervisorDriverKind), failures);
        }

        foreach (var (kind, name, section) in adds)
        {
            kind.AddDriver(builder, name, section);
        }

        return builder;
    }

    private static string Describe(HypervisorsBuilder builder) =>
        builder.Kinds.Count == 0 ? "none" : string.Join(", ", builder.Kinds.Keys.Order(StringComparer.Ordinal));

    private sealed class DelegateDriverKind(string kind, Action<HypervisorsBuilder, string, IConfigurationSection> addDriver) : IHypervisorDriverKind
    {
        public string Kind { get; } = kind;

        public void AddDriver(HypervisorsBuilder builder, string name, IConfigurationSection section) => addDriver(builder, name, section);
    }
}

/// <summary>
/// A driver kind whose options are <typeparamref name="TOptions"/>: the kind name, the options' checks and the
/// driver's construction, in one place per driver package; it serves both the configuration path (the kind) and the
/// package's own <c>AddXxx(name, section)</c> and <c>AddXxx(name, configure)</c> methods.
/// </summary>
/// <typeparam name="TOptions">The driver's options.</typeparam>
public abstract class HypervisorDriverKind<TOptions> : IHypervisorDriverKind
    where TOptions : class
{
    /// <inheritdoc />
    public abstract string Kind { get; }

    /// <inheritdoc />
    public void AddDriver(HypervisorsBuilder builder, string name, IConfigurationSection section) =>
        builder.AddDriver<TOptions>(name, section, Validate, Create);

    /// <summary>Adds a driver of this kind configured in code.</summary>
    public HypervisorsBuilder AddDriver(HypervisorsBuilder builder, string name, Action<TOptions> configure) =>
        builder.AddDriver<TOptions>(name, configure, Validate, Create);

    /// <summary>
    /// What is wrong with <paramref name="options"/>, each message naming its key under <paramref name="keyPrefix"/>;
    /// by default the options' own <see cref="IValidatableOptions.Validate"/>.
    /// </summary>
    protected virtual IEnumerable<string> Validate(TOptions options, string keyPrefix) =>
        options is IValidatableOptions validatable ? validatable.Validate(keyPrefix) : [];

    /// <summary>Creates the driver from validated options, with the container's clock and loggers.</summary>
    protected abstract IHypervisorDriver Create(DriverServices services, TOptions options);
}

/// <summary>Options that check themselves, naming each bad value by its configuration key.</summary>
public interface IValidatableOptions
{
    /// <summary>What is wrong, each message starting with the key under <paramref name="keyPrefix"/> ("Drivers:kvm1:Uri: ..."); empty when valid.</summary>
    IEnumerable<string> Validate(string keyPrefix);
}
