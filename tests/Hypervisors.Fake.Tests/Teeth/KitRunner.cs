using System.Reflection;

namespace Hypervisors.Fake.Tests.Teeth;

/// <summary>
/// Runs every kit test the fake's suite classes expose, outside xunit's runner: one fixture per suite class, as
/// xunit would make it, and each test method (theories once per inline data row) called directly.
/// </summary>
internal static class KitRunner
{
    public static IReadOnlyList<Type> SuiteClasses { get; } =
    [
        typeof(FakeHostTests), typeof(FakeLifecycleTests), typeof(FakeCreateTests), typeof(FakeListTests),
        typeof(FakeDeviceTests), typeof(FakeEventTests), typeof(FakeConcurrencyTests), typeof(FakeCancellationTests), typeof(FakeFaultConformanceTests),
    ];

    /// <summary>Runs every kit test, or only the test method <paramref name="onlyTest"/> (all its rows) when given.</summary>
    public static async Task<KitRun> RunAsync(Func<FakeFixture> makeFixture, string? onlyTest = null)
    {
        var run = new KitRun();
        foreach (var suiteClass in SuiteClasses.Where(c => onlyTest is null || TestMethods(c).Any(m => m.Name == onlyTest)))
        {
            var fixture = makeFixture();
            await fixture.InitializeAsync();
            try
            {
                var suite = Activator.CreateInstance(suiteClass, fixture)!;
                foreach (var method in TestMethods(suiteClass).Where(m => onlyTest is null || m.Name == onlyTest))
                {
                    foreach (var arguments in ArgumentRows(method))
                    {
                        var name = arguments.Length == 0 ? method.Name : $"{method.Name}({string.Join(", ", arguments)})";
                        await RunOneAsync(run, suite, method, arguments, name);
                    }
                }
            }
            finally
            {
                await fixture.DisposeAsync();
            }
        }

        return run;
    }

    private static async Task RunOneAsync(KitRun run, object suite, MethodInfo method, object?[] arguments, string name)
    {
        try
        {
            await (Task)method.Invoke(suite, arguments)!;
            run.Passed.Add(name);
        }
        catch (Exception ex)
        {
            var actual = ex is TargetInvocationException { InnerException: { } inner } ? inner : ex;
            if (actual.GetType().Name == "SkipException")
            {
                run.Skipped.Add(name);
            }
            else
            {
                run.Failed[name] = actual.Message;
            }
        }
    }

    private static IEnumerable<MethodInfo> TestMethods(Type suiteClass) =>
        suiteClass.GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => m.GetCustomAttributes<FactAttribute>(inherit: true).Any())
            .OrderBy(m => m.Name, StringComparer.Ordinal);

    private static IEnumerable<object?[]> ArgumentRows(MethodInfo method)
    {
        var rows = method.GetCustomAttributes<InlineDataAttribute>(inherit: true).Select(d => d.Data).ToList();
        return rows.Count == 0 ? [[]] : rows;
    }
}

/// <summary>The outcome of one run of the kit.</summary>
internal sealed class KitRun
{
    public List<string> Passed { get; } = [];

    public List<string> Skipped { get; } = [];

    public Dictionary<string, string> Failed { get; } = [];

    public bool FailedTest(string methodName) => Failed.Keys.Any(k => k == methodName || k.StartsWith(methodName + "(", StringComparison.Ordinal));

    public string Describe() =>
        $"{Passed.Count} passed, {Skipped.Count} skipped, {Failed.Count} failed: " +
        string.Join("; ", Failed.Select(f => $"{f.Key}: {f.Value}"));
}
