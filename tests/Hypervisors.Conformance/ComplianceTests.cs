using System.Reflection;

namespace Hypervisors.Conformance;

/// <summary>
/// Fails when a driver's test project leaves a kit suite out. Subclass it once in the project:
/// <code>public sealed class LibvirtCompliance : ComplianceTests
/// {
///     protected override Assembly TargetAssembly => typeof(LibvirtCompliance).Assembly;
/// }</code>
/// and override <see cref="SkippedSuites"/> to leave a suite out on purpose, with the reason.
/// </summary>
public abstract class ComplianceTests
{
    /// <summary>The test assembly that should subclass every suite.</summary>
    protected abstract Assembly TargetAssembly { get; }

    /// <summary>Suites left out on purpose: the generic type definition (<c>typeof(EventTests&lt;&gt;)</c>) and why.</summary>
    protected virtual IReadOnlyDictionary<Type, string> SkippedSuites => new Dictionary<Type, string>();

    /// <summary>Every suite of the kit: the generic suite definitions deriving from <see cref="DriverSuite{TFixture}"/>.</summary>
    public static IReadOnlyList<Type> KitSuites { get; } = typeof(ComplianceTests).Assembly.GetTypes()
        .Where(t => t.IsPublic && t.IsAbstract && t.IsGenericTypeDefinition && t != typeof(DriverSuite<>) && DerivesFrom(t, typeof(DriverSuite<>)))
        .OrderBy(t => t.Name, StringComparer.Ordinal)
        .ToList();

    [Fact]
    public virtual void Every_kit_suite_is_subclassed_or_skipped_with_a_reason()
    {
        var concrete = TargetAssembly.GetTypes().Where(t => t is { IsClass: true, IsAbstract: false }).ToList();
        var skipped = SkippedSuites;
        var missing = new List<string>();
        foreach (var suite in KitSuites)
        {
            if (skipped.TryGetValue(suite, out var reason) && !string.IsNullOrWhiteSpace(reason))
            {
                continue;
            }

            if (!concrete.Any(t => DerivesFrom(t, suite)))
            {
                missing.Add(suite.Name[..suite.Name.IndexOf('`', StringComparison.Ordinal)]);
            }
        }

        var unknown = skipped.Keys.Where(k => !KitSuites.Contains(k)).Select(k => k.Name).ToList();
        Assert.True(unknown.Count == 0, $"SkippedSuites names types that are not kit suites: {string.Join(", ", unknown)}.");
        Assert.True(missing.Count == 0,
            $"{TargetAssembly.GetName().Name} does not subclass these conformance suites and states no reason in SkippedSuites: {string.Join(", ", missing)}.");
    }

    private static bool DerivesFrom(Type type, Type genericDefinition)
    {
        for (var current = type.BaseType; current is not null; current = current.BaseType)
        {
            if (current.IsGenericType && current.GetGenericTypeDefinition() == genericDefinition)
            {
                return true;
            }
        }

        return false;
    }
}
