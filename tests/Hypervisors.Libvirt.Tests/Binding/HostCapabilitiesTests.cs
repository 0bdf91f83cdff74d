using Hypervisors.Libvirt.Xml;

namespace Hypervisors.Libvirt.Tests.Binding;

public sealed class HostCapabilitiesTests
{
    [Fact]
    public void Host_cpu_topology_and_guest_architectures_are_read()
    {
        var capabilities = HostCapabilities.Parse("""
            <capabilities>
              <host>
                <uuid>1</uuid>
                <cpu><arch>x86_64</arch><model>Skylake-Client-IBRS</model><vendor>Intel</vendor>
                  <topology sockets='2' dies='1' cores='4' threads='2'/></cpu>
              </host>
              <guest><os_type>hvm</os_type><arch name='i686'/></guest>
              <guest><os_type>hvm</os_type><arch name='x86_64'/></guest>
              <guest><os_type>xen</os_type><arch name='x86_64'/></guest>
            </capabilities>
            """);
        Assert.Equal(new HostCapabilities("x86_64", "Skylake-Client-IBRS", "Intel", 2, 4, 2, capabilities.GuestArchitectures), capabilities);
        Assert.Equal(["i686", "x86_64"], capabilities.GuestArchitectures);
    }

    [Fact]
    public void Missing_parts_read_as_empty_and_zero()
    {
        var capabilities = HostCapabilities.Parse("<capabilities><host/></capabilities>");
        Assert.Equal((string.Empty, 0, 0, 0), (capabilities.HostArchitecture, capabilities.Sockets, capabilities.Cores, capabilities.Threads));
        Assert.Empty(capabilities.GuestArchitectures);
    }

    [Theory]
    [InlineData("<!DOCTYPE capabilities [<!ENTITY big 'x'>]><capabilities>&big;</capabilities>")]
    [InlineData("<capabilities><host>")]
    [InlineData("<domain/>")]
    public void Documents_with_a_dtd_broken_or_of_another_kind_are_refused(string xml) =>
        Assert.Throws<FormatException>(() => HostCapabilities.Parse(xml));
}
