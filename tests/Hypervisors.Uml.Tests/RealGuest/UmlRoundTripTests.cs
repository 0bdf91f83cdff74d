using Hypervisors.Counting;

namespace Hypervisors.Uml.Tests;

/// <summary>
/// The README's round-trip table, held on a real busybox guest: the mconsole requests, processes and record writes
/// each contract operation makes, counted through <see cref="FlowCallCounter"/>. A change that adds one fails here.
/// </summary>
public sealed class UmlRoundTripTests : IDisposable
{
    private const string RecordWrite = "record write";
    private const string Kernel = "process linux.uml";

    private readonly UmlTestHost _host = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 300_000)]
    public async Task Each_operation_sends_and_starts_what_the_readme_table_says_and_no_more()
    {
        UmlTestHost.Require();
        await using var driver = new UmlDriver(_host.Options());
        using var counter = FlowCallCounter.Start();
        var id = Guid.NewGuid();
        var spec = _host.Spec(id, "rt-" + id.ToString("N")[..6]);

        await Expect(counter, "create", () => driver.CreateInstanceAsync(spec, Ct), RecordWrite);
        await Expect(counter, "repeated create", () => driver.CreateInstanceAsync(spec with { }, Ct));
        await ExpectStart(counter, "start", () => driver.StartInstanceAsync(id, Ct));
        await Expect(counter, "get", () => driver.GetInstanceAsync(id, Ct));
        await Expect(counter, "list", () => driver.ListInstancesAsync(Ct));
        await Expect(counter, "pause", () => driver.PauseInstanceAsync(id, Ct), "mconsole stop", RecordWrite);
        await Expect(counter, "unpause", () => driver.UnpauseInstanceAsync(id, Ct), "mconsole go", RecordWrite);
        await ExpectStart(counter, "hard reboot", () => driver.RebootInstanceAsync(id, RebootKind.Hard, Ct), "mconsole reboot");
        await Expect(counter, "power off", () => driver.PowerOffInstanceAsync(id, Ct), "mconsole halt");
        await ExpectStart(counter, "start again", () => driver.StartInstanceAsync(id, Ct));

        // The busybox init reboots on Ctrl-Alt-Del; the driver halts the kernel when it announces the new boot.
        await Expect(counter, "graceful stop", () => driver.StopInstanceAsync(id, TimeSpan.FromSeconds(60), Ct), "mconsole cad", "mconsole halt");
        await Expect(counter, "delete (stopped)", () => driver.DeleteInstanceAsync(id, Ct));
    }

    public void Dispose() => _host.Dispose();

    /// <summary>
    /// A boot: <paramref name="first"/>, then the wait for the ubd driver (<c>proc devices</c> until it is registered,
    /// then <c>proc partitions</c> until every disk is), polled with back-off, so a few requests at most.
    /// </summary>
    private static async Task ExpectStart(FlowCallCounter counter, string operation, Func<Task> call, string first = Kernel)
    {
        counter.Take();
        await call();
        var calls = counter.Take();
        var polls = calls.Skip(1).ToList();
        var procPolls = polls.Count(c => c == "mconsole proc");
        Assert.True(calls.Count > 1 && calls[0] == first && procPolls == polls.Count && polls.Count <= 2 * 20,
            $"{operation}: expected [{first}] and up to 40 proc polls, made [{string.Join(", ", calls)}].");
    }

    private static async Task Expect(FlowCallCounter counter, string operation, Func<Task> call, params string[] expected)
    {
        counter.Take();
        await call();
        var calls = counter.Take();
        Assert.True(expected.SequenceEqual(calls), $"{operation}: expected [{string.Join(", ", expected)}], made [{string.Join(", ", calls)}].");
    }
}
