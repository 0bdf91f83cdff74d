using System.Reflection;

namespace Hypervisors.Bench;

internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var commands = typeof(Program).Assembly.GetTypes()
            .Where(t => typeof(IBenchmarkCommand).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .Select(t => (IBenchmarkCommand)Activator.CreateInstance(t, nonPublic: true)!)
            .OrderBy(c => c.Name, StringComparer.Ordinal)
            .ToList();
        var command = args.Length > 0 ? commands.FirstOrDefault(c => c.Name == args[0]) : null;
        if (command is null)
        {
            await Console.Error.WriteLineAsync("usage: Hypervisors.Bench <command> [--option value ...]");
            foreach (var c in commands)
            {
                await Console.Error.WriteLineAsync($"  {c.Name,-8} {c.Usage}");
            }

            return 2;
        }

        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };
        return await command.RunAsync(BenchmarkArguments.Parse(args[1..]), cts.Token);
    }
}
