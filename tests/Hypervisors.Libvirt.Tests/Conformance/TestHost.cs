using System.Xml.Linq;

namespace Hypervisors.Libvirt.Tests;

/// <summary>Private hosts for libvirt's test driver: a node file per test host, opened as <c>test:///path</c>.</summary>
internal static class TestHost
{
    /// <summary>Writes an empty host (8 CPUs, 16 GiB) into <paramref name="directory"/> and returns its connection URI.</summary>
    public static async Task<string> WriteNodeAsync(string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "node.xml");
        var node = new XElement("node",
            new XElement("cpu",
                new XElement("mhz", 2000),
                new XElement("model", "x86_64"),
                new XElement("active", 8),
                new XElement("nodes", 1),
                new XElement("sockets", 1),
                new XElement("cores", 4),
                new XElement("threads", 2)),
            new XElement("memory", 16L * 1024 * 1024));
        await File.WriteAllTextAsync(path, node.ToString());
        return new UriBuilder("test", string.Empty) { Path = path }.Uri.AbsoluteUri;
    }
}

/// <summary>
/// A test class on a private host of libvirt's test driver: the node file in a temporary folder, written before
/// each test and removed after it.
/// </summary>
public abstract class PrivateTestHostSuite : IAsyncLifetime
{
    /// <summary>The folder holding the node file and the instances' files.</summary>
    protected string HostDirectory { get; } = Path.Combine(Path.GetTempPath(), "hypervisors-libvirt-host-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>The host's connection URI (a <c>test:///path</c> URI; every connection to it is a new host).</summary>
    protected string HostUri { get; private set; } = string.Empty;

    /// <summary>The test's cancellation token.</summary>
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        Hypervisors.Testing.ExternalParts.Require(LibvirtDriver.IsLibvirtAvailable(), "libvirt.so.0 (Debian package libvirt0)");
        HostUri = await TestHost.WriteNodeAsync(HostDirectory);
    }

    public ValueTask DisposeAsync()
    {
        if (Directory.Exists(HostDirectory))
        {
            Directory.Delete(HostDirectory, recursive: true);
        }

        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}
