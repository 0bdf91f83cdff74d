using Microsoft.Extensions.DependencyInjection;

namespace Hypervisors;

/// <summary>
/// Registers named drivers. Each driver is a keyed singleton <see cref="IHypervisorDriver"/> under its name,
/// and <see cref="IHypervisorDriverRegistry"/> lists them. Driver packages add <c>Add*</c> extension methods.
/// </summary>
public sealed class HypervisorsBuilder
{
    private readonly DriverNameList _names;

    internal HypervisorsBuilder(IServiceCollection services, DriverNameList names)
    {
        Services = services;
        _names = names;
    }

    /// <summary>The service collection drivers are added to.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Registers a driver under <paramref name="name"/>, created once by <paramref name="factory"/> on first use.
    /// The decorators added with <see cref="Use"/> wrap it.
    /// </summary>
    public HypervisorsBuilder AddDriver(string name, Func<IServiceProvider, IHypervisorDriver> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ValidateDriverName(name);
        if (!_names.TryAdd(name))
        {
            throw new InvalidOperationException($"A hypervisor driver named '{name}' is already registered.");
        }

        Services.AddKeyedSingleton<IHypervisorDriver>(name, (sp, _) =>
        {
            var driver = factory(sp);
            foreach (var decorate in _names.Decorators)
            {
                driver = decorate(name, driver, sp);
            }

            return driver;
        });
        return this;
    }

    /// <summary>
    /// Wraps every driver (added before or after this call) with a decorator, such as
    /// a logging or tracing <see cref="DelegatingHypervisorDriver"/>. Decorators apply in the order they are added, the last outermost.
    /// </summary>
    public HypervisorsBuilder Use(Func<string, IHypervisorDriver, IServiceProvider, IHypervisorDriver> decorator)
    {
        ArgumentNullException.ThrowIfNull(decorator);
        _names.Decorators.Add(decorator);
        return this;
    }

    /// <summary>The driver kinds registered so far (see <see cref="HypervisorDriverKinds"/>), by kind name.</summary>
    public IReadOnlyCollection<string> DriverKinds => _names.Kinds.Keys;

    internal Dictionary<string, IHypervisorDriverKind> Kinds => _names.Kinds;

    /// <summary>Throws unless <paramref name="name"/> is a valid driver name (1-63 of a-z, 0-9, '-', '_').</summary>
    public static void ValidateDriverName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 63 || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_'))
        {
            throw new ArgumentException($"Driver name '{name}' must be 1-63 characters of a-z, 0-9, '-' and '_'.", nameof(name));
        }
    }
}

/// <summary>The names of the registered drivers.</summary>
public interface IHypervisorDriverRegistry
{
    /// <summary>Registered driver names, in registration order.</summary>
    IReadOnlyList<string> Names { get; }

    /// <summary>The driver registered under <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No driver has that name.</exception>
    IHypervisorDriver Get(string name);
}

internal sealed class DriverNameList
{
    private readonly List<string> _names = [];

    public List<Func<string, IHypervisorDriver, IServiceProvider, IHypervisorDriver>> Decorators { get; } = [];

    public Dictionary<string, IHypervisorDriverKind> Kinds { get; } = new(StringComparer.OrdinalIgnoreCase);

    public IReadOnlyList<string> Names => _names;

    public bool TryAdd(string name)
    {
        if (_names.Contains(name))
        {
            return false;
        }

        _names.Add(name);
        return true;
    }
}

internal sealed class HypervisorDriverRegistry(DriverNameList names, IServiceProvider services) : IHypervisorDriverRegistry
{
    public IReadOnlyList<string> Names => names.Names;

    public IHypervisorDriver Get(string name) =>
        names.Names.Contains(name)
            ? services.GetRequiredKeyedService<IHypervisorDriver>(name)
            : throw new KeyNotFoundException($"No hypervisor driver is registered as '{name}'. Registered: {string.Join(", ", names.Names)}.");
}
