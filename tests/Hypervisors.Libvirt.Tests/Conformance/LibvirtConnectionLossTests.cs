using System.Diagnostics;
using System.Globalization;
using Hypervisors.Conformance;
using Hypervisors.Testing;
using Hypervisors.Libvirt.Tests.RealGuest;

namespace Hypervisors.Libvirt.Tests;

/// <summary>The kit's connection-loss suite on libvirt's in-memory test driver: there is no connection to lose, so it skips.</summary>
public sealed class LibvirtConnectionLossTests(LibvirtTestDriverFixture fixture) : ConnectionLossTests<LibvirtTestDriverFixture>(fixture);

/// <summary>
/// The kit's connection-loss suite on libvirtd with QEMU: the daemon drops this process's connections
/// (<c>virt-admin client-disconnect</c>), as it does when it restarts, without restarting the daemon other users share.
/// </summary>
[Collection(LibvirtdCollection.Name)]
public sealed class LibvirtQemuConnectionLossTests(LibvirtQemuConnectionLossFixture fixture) : ConnectionLossTests<LibvirtQemuConnectionLossFixture>(fixture);

/// <summary>A driver on qemu:///system whose daemon connections the fixture can cut.</summary>
public sealed class LibvirtQemuConnectionLossFixture : DriverFixture, IConnectionLossFixture
{
    private const string OnlyConnectionLoss =
        "This fixture serves only ConnectionLossTests, which use no fault hook; FaultTests run on the same libvirtd through LibvirtQemuFixture, which implements or declares each hook.";

    /// <inheritdoc />
    public override TimeSpan GracefulStopTimeout => TimeSpan.FromSeconds(1);

    /// <summary>Only the connection-loss suite runs on this fixture; the fault hooks live on <see cref="LibvirtQemuFixture"/>.</summary>
    public override IReadOnlyDictionary<FixtureHook, string> MissingHooks => new Dictionary<FixtureHook, string>
    {
        [FixtureHook.CrashInstance] = OnlyConnectionLoss,
        [FixtureHook.SlowOperation] = OnlyConnectionLoss,
        [FixtureHook.FillHost] = OnlyConnectionLoss,
        [FixtureHook.WriteConsole] = OnlyConnectionLoss,
    };

    /// <summary>A second driver on the same daemon, as <see cref="InterruptConnectionAsync"/> gives.</summary>
    public override Task<IHypervisorDriver> CreateOwnDriverAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IHypervisorDriver>(CiHost.NewDriver());

    /// <inheritdoc />
    public async Task InterruptConnectionAsync(Func<IHypervisorDriver?, Task>? whileDown, CancellationToken cancellationToken)
    {
        var ours = 0;
        foreach (var client in await ClientIdsAsync(cancellationToken))
        {
            var info = await VirtAdminAsync(cancellationToken, "client-info", "libvirtd", client);
            var pid = info.Split('\n').Select(l => l.Split(':', 2)).FirstOrDefault(p => p.Length == 2 && p[0].Trim() == "unix_process_id")?[1].Trim();
            if (pid == Environment.ProcessId.ToString(CultureInfo.InvariantCulture))
            {
                await VirtAdminAsync(cancellationToken, "client-disconnect", "libvirtd", client);
                ours++;
            }
        }

        Assert.True(ours > 0, "libvirtd lists no connection of this process to cut.");
        if (whileDown is not null)
        {
            await using var other = CiHost.NewDriver();
            await whileDown(other);
        }
    }

    /// <inheritdoc />
    protected override Task<IHypervisorDriver> CreateDriverAsync()
    {
        CiHost.Require();
        ExternalParts.Require(File.Exists("/usr/bin/virt-admin"), "virt-admin (Debian package libvirt-clients)");
        return Task.FromResult<IHypervisorDriver>(CiHost.NewDriver());
    }

    private static async Task<List<string>> ClientIdsAsync(CancellationToken cancellationToken)
    {
        var listing = await VirtAdminAsync(cancellationToken, "srv-clients-list", "libvirtd");
        return [.. listing.Split('\n').Select(l => l.Trim().Split(' ', 2)[0]).Where(id => id.Length > 0 && id.All(char.IsAsciiDigit))];
    }

    private static async Task<string> VirtAdminAsync(CancellationToken cancellationToken, params string[] arguments)
    {
        var start = new ProcessStartInfo("virt-admin") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("virt-admin did not start.");
        var output = await process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = await process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        Assert.True(process.ExitCode == 0, $"virt-admin {string.Join(' ', arguments)} failed: {error}");
        return output;
    }
}
