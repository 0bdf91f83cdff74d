using System.Reflection;
using Hypervisors.Fake;
using Hypervisors.Libvirt;
using Hypervisors.Uml;

namespace Hypervisors.Agent.Configuration;

/// <summary>One configured driver: its name, its kind and its settings section.</summary>
internal sealed record DriverDefinition(string Name, string Kind, IConfigurationSection Settings);

/// <summary>
/// Registers the drivers named under <c>Agent:Drivers</c> through the SDK's <c>AddHypervisors</c>; with none
/// configured, one in-memory fake named <c>local</c>. Settings bind onto the driver's options; a setting
/// <c>XFile</c> for an option <c>X</c> the options do not have as a file (<c>PasswordFile</c> for <c>Password</c>)
/// is read from that file, so secrets come from files or the environment and never from appsettings.json.
/// </summary>
internal static class DriverSetup
{
    public const string DefaultDriverName = "local";

    public static IReadOnlyList<DriverDefinition> Read(IConfiguration configuration)
    {
        var section = configuration.GetSection($"{AgentOptions.SectionName}:Drivers");
        var definitions = section.GetChildren()
            .Select(child => new DriverDefinition(child.Key, (child["Kind"] ?? "fake").ToLowerInvariant(), child))
            .ToList();
        if (definitions.Count == 0)
        {
            definitions.Add(new DriverDefinition(DefaultDriverName, "fake", section.GetSection(DefaultDriverName)));
        }

        return definitions;
    }

    public static void Register(IServiceCollection services, IReadOnlyList<DriverDefinition> definitions)
    {
        services.AddHypervisors(hypervisors =>
        {
            foreach (var definition in definitions)
            {
                switch (definition.Kind)
                {
                    case "fake":
                        hypervisors.AddFake(definition.Name, options => Bind(definition.Settings, options));
                        break;
                    case "libvirt":
                        hypervisors.AddLibvirt(definition.Name, options => Bind(definition.Settings, options));
                        break;
                    case "uml":
                        // Through the SDK's kind registration point: options bound from the section and checked at start.
                        hypervisors.AddUml(definition.Name, definition.Settings);
                        break;
                    default:
                        throw AgentStartupException.Setting($"Agent:Drivers:{definition.Name}:Kind",
                            $"'{definition.Kind}' is not a known driver kind (known: {string.Join(", ", KnownKinds)}).");
                }
            }

            // The SDK's decorators: one activity and measurement per driver call (source and meter "Hypervisors"),
            // and its log lines with event ids.
            hypervisors.UseOpenTelemetry().UseLogging();
        });
    }

    public static IReadOnlyList<string> KnownKinds { get; } = ["fake", "libvirt", "uml"];

    /// <summary>Binds <paramref name="settings"/> onto <paramref name="options"/>, then resolves <c>XFile</c> secrets.</summary>
    public static void Bind(IConfigurationSection settings, object options)
    {
        settings.Bind(options);
        var type = options.GetType();
        foreach (var child in settings.GetChildren())
        {
            if (!child.Key.EndsWith("File", StringComparison.Ordinal) || child.Key.Length <= 4 || string.IsNullOrEmpty(child.Value)
                || type.GetProperty(child.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase) is not null)
            {
                continue;
            }

            var target = type.GetProperty(child.Key[..^4], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (target is { CanWrite: true } && target.PropertyType == typeof(string))
            {
                string secret;
                try
                {
                    secret = File.ReadAllText(child.Value).TrimEnd('\r', '\n');
                }
                catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
                {
                    throw AgentStartupException.Setting(child.Path, $"cannot read '{child.Value}': {exception.Message}", exception);
                }

                target.SetValue(options, secret);
            }
        }
    }
}
