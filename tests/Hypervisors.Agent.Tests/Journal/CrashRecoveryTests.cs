using System.Net;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Configuration;
using Hypervisors.Agent.Journal;
using Hypervisors.Agent.Tests.Infrastructure;

namespace Hypervisors.Agent.Tests.Journal;

/// <summary>
/// Kills the agent (SIGKILL) while 200 creates are in flight, restarts it on the same journal, retries every create
/// with the same ids, and checks that exactly those 200 instances exist, once each, with every operation final.
/// </summary>
public sealed class CrashRecoveryTests
{
    private const int Count = 200;

    [Fact]
    public Task Killing_the_agent_during_200_creates_on_the_fake_loses_nothing_and_duplicates_nothing() => RunAsync(CrashTarget.Fake);

    [Fact]
    public Task Killing_the_agent_during_200_creates_on_libvirtd_loses_nothing_and_duplicates_nothing()
    {
        // Needs libvirtd with QEMU: tests/test.sh starts it and sets the variable; a bare `dotnet test` skips.
        var uri = Environment.GetEnvironmentVariable("HYPERVISORS_AGENT_CRASH_LIBVIRT_URI");
        if (string.IsNullOrEmpty(uri))
        {
            Assert.Skip("Set HYPERVISORS_AGENT_CRASH_LIBVIRT_URI (e.g. qemu:///system) to run the crash test against libvirtd.");
        }

        return RunAsync(CrashTarget.Libvirt(uri));
    }

    private static async Task RunAsync(CrashTarget target)
    {
        var ct = TestContext.Current.CancellationToken;
        var dataDirectory = Directory.CreateTempSubdirectory("hv-agent-crash-").FullName;
        var runTag = Guid.NewGuid().ToString("N")[..8];
        var ids = Enumerable.Range(0, Count).Select(_ => Guid.NewGuid()).ToList();
        CreateInstanceRequest SpecFor(int i) => new()
        {
            Name = $"crash-{runTag}-{i:D3}",
            VCpus = 1,
            MemoryMiB = 64,
            Metadata = new Dictionary<string, string> { ["crash-run"] = runTag },
        };

        try
        {
            int answeredBeforeKill;
            await using (var first = await AgentProcess.StartAsync(dataDirectory, target.Settings, ct))
            {
                using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = first.BaseAddress };
                var client = new AgentClient(http);
                var answered = 0;
                var killAfter = Count / 4;
                var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var creates = ids.Select(async (id, i) =>
                {
                    try
                    {
                        await client.CreateInstanceAsync(target.Driver, id, SpecFor(i), cancellationToken: ct);
                        if (Interlocked.Increment(ref answered) == killAfter)
                        {
                            killed.TrySetResult();
                        }
                    }
                    catch (HttpRequestException)
                    {
                        // Cut off by the kill: the client does not know whether the agent journaled it.
                    }
                }).ToList();

                await killed.Task.WaitAsync(TimeSpan.FromSeconds(120), ct);
                await first.KillAsync();
                await Task.WhenAll(creates);
                answeredBeforeKill = Volatile.Read(ref answered);
            }

            Assert.True(answeredBeforeKill < Count, "the kill came after every create was answered");
            int unfinishedAtRestart;
            await using (var journal = new OperationJournal(Path.Combine(dataDirectory, "journal.db"), JournalDurability.Normal))
            {
                unfinishedAtRestart = journal.ListUnfinished().Count;
            }

            await using (var second = await AgentProcess.StartAsync(dataDirectory, target.Settings, ct))
            {
                using var http = new HttpClient { BaseAddress = second.BaseAddress, Timeout = TimeSpan.FromMinutes(3) };
                var client = new AgentClient(http);
                var finals = await Task.WhenAll(ids.Select(async (id, i) =>
                {
                    var operation = await client.CreateInstanceAsync(target.Driver, id, SpecFor(i), TimeSpan.FromSeconds(60), ct);
                    return await client.WaitForOperationAsync(operation, ct);
                }));

                Assert.All(finals, operation => Assert.True(operation.State == OperationState.Succeeded, $"{operation.InstanceId}: {operation.Error?.Detail}"));
                var ours = (await client.ListInstancesAsync(target.Driver, ct))
                    .Where(instance => instance.Metadata.TryGetValue("crash-run", out var tag) && tag == runTag)
                    .ToList();
                Assert.Equal(Count, ours.Count);
                Assert.Equal(ids.ToHashSet(), ours.Select(instance => instance.Id).ToHashSet());
                Assert.Equal(Count, ours.Select(instance => instance.Name).Distinct().Count());

                if (target.CleanUp)
                {
                    var deletes = await Task.WhenAll(ids.Select(id => client.DeleteInstanceAsync(target.Driver, id, TimeSpan.FromSeconds(60), cancellationToken: ct)));
                    Assert.All(deletes, delete => Assert.Equal(OperationState.Succeeded, delete.State));
                }
            }

            await using var finalJournal = new OperationJournal(Path.Combine(dataDirectory, "journal.db"), JournalDurability.Normal);
            var states = finalJournal.CountByState();
            Assert.False(states.ContainsKey(OperationState.Pending), $"pending operations left: {states.GetValueOrDefault(OperationState.Pending)}");
            Assert.False(states.ContainsKey(OperationState.Failed));
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"crash test on {target.Description}: {answeredBeforeKill} creates answered before the kill, {unfinishedAtRestart} journaled but unfinished at restart, {states.GetValueOrDefault(OperationState.Succeeded)} operations succeeded in all");
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }
}

/// <summary>The hypervisor the crash test runs against.</summary>
internal sealed record CrashTarget(string Driver, IReadOnlyDictionary<string, string> Settings, bool CleanUp, string Description)
{
    /// <summary>The in-memory fake: its state dies with the process, so repeats of finished creates re-create.</summary>
    public static CrashTarget Fake { get; } = new("local", new Dictionary<string, string>(), CleanUp: false, "the in-memory fake");

    /// <summary>libvirtd with QEMU: creates only define domains (software emulation, never started).</summary>
    public static CrashTarget Libvirt(string uri) => new(
        "kvm",
        new Dictionary<string, string>
        {
            ["Agent:Drivers:kvm:Kind"] = "libvirt",
            ["Agent:Drivers:kvm:Uri"] = uri,
            ["Agent:Drivers:kvm:DomainType"] = "qemu",
            ["Agent:Drivers:kvm:InstanceDirectory"] = Path.Combine(Path.GetTempPath(), "hv-agent-crash-instances"),
        },
        CleanUp: true,
        $"libvirtd ({uri})");
}
