using Hypervisors.Agent.Configuration;
using Hypervisors.Agent.Tests.Infrastructure;
using Hypervisors.Fake;

[assembly: Hypervisors.HypervisorDriverKind(typeof(Hypervisors.Agent.Tests.Drivers.RackDriverKind))]

namespace Hypervisors.Agent.Tests.Drivers;

/// <summary>
/// Issue 11 item 3: the agent takes its driver kinds from the SDK's registration point. A kind defined here, in an
/// assembly the agent's code never names, is hosted like the bundled ones; every kind's options are checked when the
/// agent starts, and a kind nobody provides is refused with the list of the kinds there are.
/// </summary>
public sealed class DriverKindTests : WithSecretFiles
{
    [Fact]
    public async Task A_kind_from_an_assembly_the_agent_does_not_name_hosts_a_driver_bound_from_its_section()
    {
        var ct = TestContext.Current.CancellationToken;
        var labelFile = SecretFile("label", "label-from-a-file-5c1e");
        await using var agent = await TestAgent.StartAsync(new Dictionary<string, string>
        {
            ["Agent:Drivers:r1:Kind"] = "test-rack",
            ["Agent:Drivers:r1:Site"] = "b7",
            ["Agent:Drivers:r1:LabelFile"] = labelFile,
        });

        var host = await agent.Client.GetHostAsync("r1", ct);
        var create = await agent.Client.CreateInstanceAsync("r1", Guid.NewGuid(), Specs.Small("rack-vm"), TimeSpan.FromSeconds(30), ct);

        Assert.Equal("rack-b7-label-from-a-file-5c1e", host.Host.HostName);
        Assert.Equal(Hypervisors.Agent.Client.OperationState.Succeeded, create.State);
        Assert.DoesNotContain(agent.Logs.Entries, e => e.Message.Contains("label-from-a-file-5c1e", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("libvirt", "qcow2")]
    [InlineData("esx", "raw")]
    [InlineData("xen", "raw")]
    [InlineData("hyperv", "vhdx")]
    public void Disks_from_images_are_based_on_the_format_their_drivers_kind_needs(string kind, string format) =>
        Assert.Equal(format, Hypervisors.Agent.Images.AgentImages.BaseImageFormat(kind));

    [Fact]
    public async Task An_unknown_kind_is_refused_at_start_listing_every_kind_the_agent_found()
    {
        var refused = await Assert.ThrowsAsync<AgentStartupException>(() => TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:Drivers:x:Kind"] = "vmware-workstation" }));

        Assert.StartsWith("Agent:Drivers:x:Kind: 'vmware-workstation' is not a registered driver kind", refused.Message, StringComparison.Ordinal);
        Assert.Contains("registered kinds: esx, fake, hyperv, libvirt, test-rack, uml, xen.", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("test-rack", "Slots", "0", "Agent:Drivers:d:Slots: must be at least 1")]
    [InlineData("fake", "VCpus", "0", "Agent:Drivers:d:VCpus: must be at least 1")]
    [InlineData("fake", "AllowedHostDirectories:0", "relative/dir", "Agent:Drivers:d:AllowedHostDirectories:0: 'relative/dir' is not an absolute path.")]
    [InlineData("libvirt", "Uri", "vbox:///session", "Agent:Drivers:d:Uri:")]
    [InlineData("libvirt", "AllowedHostDirectories:0", "relative/dir", "Agent:Drivers:d:AllowedHostDirectories:0:")]
    [InlineData("uml", "StateDirectory", "relative/state", "Agent:Drivers:d:StateDirectory: 'relative/state' is not an absolute path.")]
    [InlineData("esx", "Datastore", "ds1", "Agent:Drivers:d:Url: is required.")]
    [InlineData("esx", "Tls:PinnedSha256Thumbprints:0", "12:34", "Agent:Drivers:d:Tls:PinnedSha256Thumbprints:0:")]
    [InlineData("xen", "Url", "ftp://pool.example/", "Agent:Drivers:d:Url: 'ftp://pool.example/' is not an absolute http or https URL.")]
    [InlineData("xen", "PasswordFile", "/nonexistent/xen-password", "Agent:Drivers:d:PasswordFile: the file '/nonexistent/xen-password' does not exist.")]
    [InlineData("hyperv", "Generation", "3", "Agent:Drivers:d:Generation: must be 1 or 2, was 3.")]
    public async Task A_bad_setting_of_any_kind_stops_the_start_naming_its_key(string kind, string key, string value, string expected)
    {
        var settings = new Dictionary<string, string>
        {
            ["Agent:Drivers:d:Kind"] = kind,
            [$"Agent:Drivers:d:{key}"] = value,
        };
        if (kind is "esx" or "xen" or "hyperv")
        {
            settings.TryAdd("Agent:Drivers:d:Url", "https://peer.example/sdk");
            settings.TryAdd("Agent:Drivers:d:UserName", "ops");
            settings.TryAdd("Agent:Drivers:d:PasswordFile", SecretFile("password", "pw"));
            if (key == "Datastore")
            {
                settings.Remove("Agent:Drivers:d:Url");
            }
        }

        var refused = await Assert.ThrowsAsync<AgentStartupException>(() => TestAgent.StartAsync(settings));

        Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
    }
}

/// <summary>Settings of <see cref="RackDriverKind"/>: a third party's options, checked by the SDK at start.</summary>
public sealed class RackOptions : IValidatableOptions
{
    public string? Site { get; set; }

    public string? Label { get; set; }

    public int Slots { get; set; } = 4;

    public IEnumerable<string> Validate(string keyPrefix)
    {
        if (string.IsNullOrWhiteSpace(Site))
        {
            yield return $"{keyPrefix}:{nameof(Site)}: is required.";
        }

        if (Slots < 1)
        {
            yield return $"{keyPrefix}:{nameof(Slots)}: must be at least 1, was {Slots}.";
        }
    }
}

/// <summary>A driver kind the agent does not ship: a fake host named after the rack's site.</summary>
public sealed class RackDriverKind : HypervisorDriverKind<RackOptions>
{
    public override string Kind => "test-rack";

    protected override IHypervisorDriver Create(DriverServices services, RackOptions options)
    {
        var host = new FakeHypervisorOptions { HostName = $"rack-{options.Site}" + (options.Label is null ? string.Empty : "-" + options.Label), VCpus = options.Slots * 2 };
        return new FakeHypervisorDriver(host, services.TimeProvider);
    }
}
