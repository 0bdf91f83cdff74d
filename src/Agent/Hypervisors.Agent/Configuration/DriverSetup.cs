using System.Reflection;
using Microsoft.Extensions.Options;

namespace Hypervisors.Agent.Configuration;

/// <summary>One configured driver: its name, its kind and its settings section.</summary>
internal sealed record DriverDefinition(string Name, string Kind, IConfigurationSection Settings);

/// <summary>
/// Hosts the drivers named under <c>Agent:Drivers</c> through the SDK's one registration point for driver kinds
/// (<see cref="HypervisorDriverKinds.AddDriversFromConfiguration"/>): each child is a driver, its key the driver's
/// name and its <c>Kind</c> a kind found by <see cref="DriverKindCatalog"/> (<c>fake</c> when left out); with no
/// child, one in-memory fake named <c>local</c>. Each kind binds and validates its own options when the agent starts.
/// A setting <c>XFile</c> for a string option <c>X</c> that the options do not take as a file themselves
/// (<c>HostNameFile</c> for <c>HostName</c>) is read from that file, so secrets stay out of appsettings.json; the
/// remote drivers take <c>PasswordFile</c> themselves and read it again at every login.
/// </summary>
internal static class DriverSetup
{
    public const string DefaultDriverName = "local";

    public const string DefaultKind = "fake";

    private const string SectionPath = AgentOptions.SectionName + ":Drivers";

    public static IReadOnlyList<DriverDefinition> Read(IConfiguration configuration)
    {
        var section = configuration.GetSection(SectionPath);
        var definitions = section.GetChildren()
            .Select(child => new DriverDefinition(child.Key, (child[HypervisorDriverKinds.KindKey] ?? DefaultKind).ToLowerInvariant(), child))
            .ToList();
        if (definitions.Count == 0)
        {
            definitions.Add(new DriverDefinition(DefaultDriverName, DefaultKind, section.GetSection(DefaultDriverName)));
        }

        return definitions;
    }

    /// <summary>
    /// Registers every kind in <paramref name="kinds"/> and adds the drivers of <paramref name="definitions"/>;
    /// the defaults (kind, the <c>local</c> driver) and the secrets read from files are added to
    /// <paramref name="configuration"/> so that each kind binds one section.
    /// </summary>
    /// <exception cref="AgentStartupException">A driver names a kind not found (the message lists the known ones), two
    /// packages claim one kind, or a secret file cannot be read.</exception>
    public static void Register(IServiceCollection services, ConfigurationManager configuration, IReadOnlyList<DriverDefinition> definitions, IReadOnlyList<IHypervisorDriverKind> kinds)
    {
        var optionsTypes = new Dictionary<string, Type>(StringComparer.OrdinalIgnoreCase);
        foreach (var kind in kinds)
        {
            if (OptionsType(kind.GetType()) is { } type)
            {
                optionsTypes.TryAdd(kind.Kind, type);
            }
        }

        var derived = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var definition in definitions)
        {
            var path = $"{SectionPath}:{definition.Name}";
            if (definition.Settings[HypervisorDriverKinds.KindKey] is null)
            {
                derived[$"{path}:{HypervisorDriverKinds.KindKey}"] = definition.Kind;
            }

            if (optionsTypes.TryGetValue(definition.Kind, out var optionsType))
            {
                foreach (var (key, secret) in SecretsFromFiles(definition.Settings, optionsType))
                {
                    derived[$"{path}:{key}"] = secret;
                }
            }
        }

        if (derived.Count > 0)
        {
            configuration.AddInMemoryCollection(derived);
        }

        var drivers = configuration.GetSection(SectionPath);
        try
        {
            services.AddHypervisors(hypervisors =>
            {
                foreach (var kind in kinds)
                {
                    hypervisors.AddDriverKind(kind);
                }

                hypervisors.AddDriversFromConfiguration(drivers);

                // The SDK's decorators: one activity and measurement per driver call (source and meter "Hypervisors"),
                // and its log lines with event ids.
                hypervisors.UseOpenTelemetry().UseLogging();
            });
        }
        catch (OptionsValidationException exception)
        {
            throw new AgentStartupException(string.Join(" ", exception.Failures), exception);
        }
        catch (Exception exception) when (exception is InvalidOperationException or ArgumentException)
        {
            throw AgentStartupException.Setting(SectionPath, exception.Message, exception);
        }
    }

    /// <summary>
    /// The <c>TOptions</c> of a kind built on <see cref="HypervisorDriverKind{TOptions}"/>; null for a kind that binds
    /// its section its own way (then its settings are passed as written).
    /// </summary>
    private static Type? OptionsType(Type? kindType)
    {
        for (; kindType is not null; kindType = kindType.BaseType)
        {
            if (kindType.IsGenericType && kindType.GetGenericTypeDefinition() == typeof(HypervisorDriverKind<>))
            {
                return kindType.GetGenericArguments()[0];
            }
        }

        return null;
    }

    /// <summary>The <c>X</c> = content of each <c>XFile</c> setting whose options have a string <c>X</c> and no <c>XFile</c> of their own.</summary>
    private static IEnumerable<(string Key, string Secret)> SecretsFromFiles(IConfigurationSection settings, Type optionsType)
    {
        const BindingFlags Public = BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase;
        foreach (var child in settings.GetChildren())
        {
            if (!child.Key.EndsWith("File", StringComparison.OrdinalIgnoreCase) || child.Key.Length <= 4 || string.IsNullOrEmpty(child.Value)
                || optionsType.GetProperty(child.Key, Public) is not null
                || optionsType.GetProperty(child.Key[..^4], Public) is not { CanWrite: true } target || target.PropertyType != typeof(string))
            {
                continue;
            }

            string secret;
            try
            {
                secret = File.ReadAllText(child.Value).TrimEnd('\r', '\n');
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                throw AgentStartupException.Setting(child.Path, $"cannot read '{child.Value}': {exception.Message}", exception);
            }

            yield return (target.Name, secret);
        }
    }
}
