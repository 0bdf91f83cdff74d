using System.Globalization;
using System.Text.RegularExpressions;

namespace Hypervisors.Uml.Tests;

/// <summary>Reads what the busybox test guest prints on its console.</summary>
internal static partial class GuestConsole
{
    public static async Task<string> TextAsync(IHypervisorDriver driver, Guid id) =>
        (await driver.GetConsoleOutputAsync(id, TestContext.Current.CancellationToken)).Text;

    public static int Count(string text, string marker) => Regex.Matches(text, "^" + Regex.Escape(marker) + "\r?$", RegexOptions.Multiline).Count;

    /// <summary>The status lines: tick counter, network devices, ubd devices.</summary>
    public static IReadOnlyList<(int Tick, string Net, string Ubd)> Status(string text) =>
        StatusLine().Matches(text).Select(m => (int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), m.Groups[2].Value, m.Groups[3].Value)).ToList();

    /// <summary>Polls the console until <paramref name="condition"/> holds; fails with the console tail after <paramref name="timeout"/>.</summary>
    public static async Task<string> WaitForAsync(IHypervisorDriver driver, Guid id, Func<string, bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        string text;
        while (!condition(text = await TextAsync(driver, id)))
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Waited in vain for {what}. Console tail:\n{text[Math.Max(0, text.Length - 3000)..]}");
            }

            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        return text;
    }

    /// <summary>Processes whose command line carries <c>umid={id}</c>: the guest's kernel and its helpers.</summary>
    public static IReadOnlyList<int> ProcessesOf(Guid id)
    {
        var found = new List<int>();
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), out var pid))
            {
                continue;
            }

            try
            {
                var commandLine = File.ReadAllText(Path.Combine(folder, "cmdline"));
                if (commandLine.Split('\0').Contains("umid=" + id.ToString("D")) && !File.ReadAllText(Path.Combine(folder, "stat")).Contains(") Z ", StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
                // Ended while being read.
            }
        }

        return found;
    }

    /// <summary>Whether <paramref name="pid"/> leads its session: the guest's kernel (its helpers do not).</summary>
    public static bool IsSessionLeader(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[3] == pid.ToString(CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            // A helper process that ended meanwhile.
            return false;
        }
    }

    /// <summary>The first event of <paramref name="kind"/> for <paramref name="id"/>.</summary>
    public static async Task<InstanceEvent> WaitForEventAsync(IHypervisorDriver driver, Guid id, InstanceEventKind kind, CancellationToken cancellationToken)
    {
        await foreach (var e in driver.WatchEventsAsync(cancellationToken))
        {
            if (e.InstanceId == id && e.Kind == kind)
            {
                return e;
            }
        }

        throw new InvalidOperationException("The event stream ended.");
    }

    [GeneratedRegex(@"^STATUS tick=(\d+) net=(\S*) ubd=(\S*)", RegexOptions.Multiline)]
    private static partial Regex StatusLine();
}
