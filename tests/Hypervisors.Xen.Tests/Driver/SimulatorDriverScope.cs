using Hypervisors.Xen.Wire;
using XenApiSimulator;

namespace Hypervisors.Xen.Tests.Driver;

/// <summary>A simulator and a driver on it, for tests that need their own (a hanging guest, a template).</summary>
internal sealed class SimulatorDriverScope : IAsyncDisposable
{
    private SimulatorDriverScope(XenApiSimulatorHost simulator, XenDriver driver)
    {
        Simulator = simulator;
        Driver = driver;
    }

    public XenApiSimulatorHost Simulator { get; }

    public XenDriver Driver { get; }

    public static async Task<SimulatorDriverScope> StartAsync(
        Action<XenApiSimulatorOptions>? simulator = null, Action<XenDriverOptions>? driver = null, XenApiTransport transport = XenApiTransport.XmlRpc)
    {
        var simulatorOptions = new XenApiSimulatorOptions();
        simulator?.Invoke(simulatorOptions);
        var host = await XenApiSimulatorHost.StartAsync(simulatorOptions);
        var options = new XenDriverOptions { Url = host.Url, Transport = transport }.UseCredentials(simulatorOptions.UserName, simulatorOptions.Password);
        driver?.Invoke(options);
        return new SimulatorDriverScope(host, new XenDriver(options));
    }

    public static InstanceSpec Spec(string name, bool withDevices = true) => new()
    {
        Id = Guid.NewGuid(),
        Name = name,
        VCpus = 2,
        MemoryMiB = 128,
        Disks = withDevices ? [new DiskSpec(2)] : [],
        NetworkInterfaces = withDevices ? [new NetworkInterfaceSpec(new XenApiSimulatorOptions().NetworkName)] : [],
    };

    public async ValueTask DisposeAsync()
    {
        await Driver.DisposeAsync();
        await Simulator.DisposeAsync();
    }
}
