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

    /// <summary>The fixture member each hook overrides.</summary>
    public static IReadOnlyDictionary<FixtureHook, string> HookMembers { get; } = new Dictionary<FixtureHook, string>
    {
        [FixtureHook.CrashInstance] = nameof(DriverFixture.CrashInstanceAsync),
        [FixtureHook.SlowOperation] = nameof(DriverFixture.SlowDownAsync),
        [FixtureHook.FillHost] = nameof(DriverFixture.FillHostAsync),
        [FixtureHook.WriteConsole] = nameof(DriverFixture.WriteConsoleAsync),
        [FixtureHook.OwnDriver] = nameof(DriverFixture.CreateOwnDriverAsync),
    };

    [Fact]
    public virtual void Every_fixture_implements_each_hook_or_declares_it_missing_with_a_reason()
    {
        var fixtures = TargetAssembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false })
            .SelectMany(SuiteFixtures)
            .Distinct()
            .OrderBy(t => t.FullName, StringComparer.Ordinal)
            .ToList();
        var problems = new List<string>();
        foreach (var fixtureType in fixtures)
        {
            problems.AddRange(HookProblems(fixtureType));
        }

        Assert.True(problems.Count == 0, string.Join(" ", problems));
    }

    /// <summary>What is wrong with <paramref name="fixtureType"/>'s hooks: each hook must be overridden or declared missing with a reason, not both.</summary>
    public static IReadOnlyList<string> HookProblems(Type fixtureType)
    {
        ArgumentNullException.ThrowIfNull(fixtureType);
        var fixture = (DriverFixture)(fixtureType.GetConstructor(Type.EmptyTypes) is not null
            ? Activator.CreateInstance(fixtureType)!
            : System.Runtime.CompilerServices.RuntimeHelpers.GetUninitializedObject(fixtureType));
        var missing = fixture.MissingHooks;
        var problems = new List<string>();
        foreach (var (hook, member) in HookMembers)
        {
            var implemented = fixtureType.GetMethod(member, BindingFlags.Public | BindingFlags.Instance)!.DeclaringType != typeof(DriverFixture);
            var declared = missing.TryGetValue(hook, out var reason);
            if (implemented && declared)
            {
                problems.Add($"{fixtureType.Name} implements {member} but also declares the {hook} hook missing.");
            }
            else if (!implemented && !declared)
            {
                problems.Add($"{fixtureType.Name} neither implements {member} nor declares the {hook} hook in MissingHooks.");
            }
            else if (declared && string.IsNullOrWhiteSpace(reason))
            {
                problems.Add($"{fixtureType.Name} declares the {hook} hook missing without a reason.");
            }
        }

        return problems;
    }

    private static IEnumerable<Type> SuiteFixtures(Type type)
    {
        for (var current = type.BaseType; current is not null; current = current.BaseType)
        {
            if (current.IsGenericType && current.GetGenericTypeDefinition() == typeof(DriverSuite<>))
            {
                yield return current.GetGenericArguments()[0];
            }
        }
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
