using System.Xml.Linq;
using Hypervisors.Esx.Tests.Vcsim;

namespace Hypervisors.Esx.Tests.RoundTrips;

/// <summary>
/// The vSphere calls each contract operation sends, counted against vcsim through a recording handler, so a change
/// that adds a round trip fails here. The table in the driver's README lists the same calls and why each is needed.
/// </summary>
public sealed class RoundTripTests : IAsyncLifetime
{
    private VcsimServer? _server;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _server = await VcsimServer.StartAsync(vcenter: false, tls: false);

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Each_operation_sends_only_the_calls_in_the_readme_table()
    {
        var recorder = new RecordingHandler(new SocketsHttpHandler());
        var options = _server!.CreateOptions();
        options.EnableEvents = false;
        await using var driver = new EsxDriver(options, null, null, recorder);
        await driver.ConnectAsync(Ct);
        var spec = new InstanceSpec { Id = Guid.NewGuid(), Name = "round-trips", VCpus = 1, MemoryMiB = 64 };

        var seen = new Dictionary<string, string>();
        async Task Measure(string operation, Func<Task> call)
        {
            recorder.Clear();
            await call();
            await recorder.SettleAsync(); // the task filter is destroyed off the caller's path; count it with its operation
            seen[operation] = string.Join(' ', recorder.Methods);
        }

        await Measure("Create", () => driver.CreateInstanceAsync(spec, Ct));
        await Measure("GetInstance", () => driver.GetInstanceAsync(spec.Id, Ct));
        await Measure("ListInstances", () => driver.ListInstancesAsync(Ct));
        await Measure("Start", () => driver.StartInstanceAsync(spec.Id, Ct));
        await Measure("Suspend", () => driver.SuspendInstanceAsync(spec.Id, Ct));
        await Measure("Resume", () => driver.ResumeInstanceAsync(spec.Id, Ct));
        await Measure("HardReboot", () => driver.RebootInstanceAsync(spec.Id, RebootKind.Hard, Ct));
        await Measure("PowerOff", () => driver.PowerOffInstanceAsync(spec.Id, Ct));
        await Measure("Delete", () => driver.DeleteInstanceAsync(spec.Id, Ct));

        const string Task = "CreateFilter WaitForUpdatesEx DestroyPropertyFilter";
        var expected = new Dictionary<string, string>
        {
            ["Create"] = $"CreateVM_Task CreatePropertyCollector {Task}", // the collector once per session, for all task waits
            ["GetInstance"] = "RetrievePropertiesEx",
            ["ListInstances"] = "CreateContainerView RetrievePropertiesEx DestroyView",
            ["Start"] = $"RetrievePropertiesEx PowerOnVM_Task {Task}",
            ["Suspend"] = $"RetrievePropertiesEx SuspendVM_Task {Task}",
            ["Resume"] = $"RetrievePropertiesEx PowerOnVM_Task {Task}",
            ["HardReboot"] = $"RetrievePropertiesEx ResetVM_Task {Task}",
            ["PowerOff"] = $"RetrievePropertiesEx PowerOffVM_Task {Task}",
            ["Delete"] = $"RetrievePropertiesEx Destroy_Task {Task}", // powered off already: no PowerOffVM_Task
        };
        Assert.True(expected.Count == seen.Count && expected.All(e => seen[e.Key] == e.Value),
            "Round trips differ from the README table:\n" + string.Join('\n', seen.Select(p => $"{p.Key}: {p.Value}" + (expected.GetValueOrDefault(p.Key) == p.Value ? string.Empty : $"   (table: {expected.GetValueOrDefault(p.Key)})"))));
    }

    /// <summary>Passes every request on and records its vim25 method name.</summary>
    private sealed class RecordingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        private readonly List<string> _methods = [];

        public IReadOnlyList<string> Methods
        {
            get
            {
                lock (_methods)
                {
                    return [.. _methods];
                }
            }
        }

        /// <summary>Waits until no request has been sent for a moment (at most 5 s).</summary>
        public async Task SettleAsync()
        {
            var last = -1;
            for (var i = 0; i < 50; i++)
            {
                var count = Methods.Count;
                if (count == last)
                {
                    return;
                }

                last = count;
                await Task.Delay(100, Ct);
            }
        }

        public void Clear()
        {
            lock (_methods)
            {
                _methods.Clear();
            }
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = XDocument.Parse(await request.Content!.ReadAsStringAsync(cancellationToken));
            var method = body.Root!.Elements().Single(e => e.Name.LocalName == "Body").Elements().First().Name.LocalName;
            lock (_methods)
            {
                _methods.Add(method);
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }
}
