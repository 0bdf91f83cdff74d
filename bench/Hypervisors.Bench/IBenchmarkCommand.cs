namespace Hypervisors.Bench;

/// <summary>
/// One benchmark subcommand (<c>libvirt</c>, <c>esx</c>, <c>xen</c>, <c>hyperv</c>, <c>agent</c>, ...). Each lives in
/// its own file; <see cref="Program"/> finds every implementation in this assembly.
/// </summary>
internal interface IBenchmarkCommand
{
    /// <summary>The subcommand name.</summary>
    string Name { get; }

    /// <summary>One line of usage.</summary>
    string Usage { get; }

    /// <summary>Runs with the arguments after the subcommand name; prints its JSON line(s) to stdout.</summary>
    Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken);
}

/// <summary><c>--key value</c> arguments.</summary>
internal sealed class BenchmarkArguments(IReadOnlyDictionary<string, string> values)
{
    public static BenchmarkArguments Parse(IReadOnlyList<string> args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            if (!args[i].StartsWith('-'))
            {
                throw new ArgumentException($"Unexpected argument '{args[i]}'.");
            }

            var key = args[i].TrimStart('-');
            values[key] = i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "true";
        }

        return new BenchmarkArguments(values);
    }

    public string Get(string key, string defaultValue) => values.TryGetValue(key, out var v) ? v : defaultValue;

    public string Require(string key) => values.TryGetValue(key, out var v) ? v : throw new ArgumentException($"--{key} is required.");

    public int GetInt(string key, int defaultValue) =>
        values.TryGetValue(key, out var v) ? int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : defaultValue;
}
