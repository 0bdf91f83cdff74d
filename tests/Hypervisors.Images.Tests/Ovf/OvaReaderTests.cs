using System.Formats.Tar;
using System.Text;

using Hypervisors.Images.Ovf;

namespace Hypervisors.Images.Tests.Ovf;

public sealed class OvaReaderTests
{
    private static readonly byte[] Disk = Encoding.ASCII.GetBytes(new string('d', 5000));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static byte[] Descriptor => Encoding.UTF8.GetBytes(OvfSamples.Single("vm", "vm-disk1.vmdk", Disk.Length, 1 << 20));

    [Fact]
    public async Task A_well_formed_package_unpacks_with_its_manifest_verified()
    {
        var ova = await OvfSamples.OvaAsync([("vm.ovf", Descriptor), ("vm-disk1.vmdk", Disk)]);
        var directory = NewDirectory();
        try
        {
            var package = await OvaReader.ExtractAsync(new MemoryStream(ova), directory, cancellationToken: Ct);
            Assert.Equal("vm", Assert.Single(package.Envelope.VirtualSystems).Id);
            Assert.Equal(Disk, File.ReadAllBytes(package.PathOfFile("f1")));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task A_manifest_that_does_not_match_is_refused_and_nothing_is_left()
    {
        var ova = await OvfSamples.OvaAsync([("vm.ovf", Descriptor), ("vm-disk1.vmdk", Disk)],
            editManifest: text => text.Replace(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Disk)), new string('0', 64), StringComparison.Ordinal));
        await AssertRefusedAsync(ova, "vm.mf", "does not match");
    }

    [Fact]
    public async Task A_manifest_that_misses_a_file_is_refused()
    {
        var ova = await OvfSamples.OvaAsync([("vm.ovf", Descriptor), ("vm-disk1.vmdk", Disk)], editManifest: text => text.Split('\n')[0] + "\n");
        await AssertRefusedAsync(ova, "vm.mf", "does not list");
    }

    [Theory]
    [InlineData("../vm-disk1.vmdk")]
    [InlineData("/etc/cron.d/evil")]
    [InlineData("sub/vm-disk1.vmdk")]
    public async Task Entries_with_dot_dot_absolute_paths_or_folders_are_refused(string name)
    {
        var ova = await OvfSamples.OvaAsync([("vm.ovf", Descriptor), (name, Disk)], manifest: false);
        await AssertRefusedAsync(ova, name, "plain file names");
    }

    [Theory]
    [InlineData(TarEntryType.SymbolicLink)]
    [InlineData(TarEntryType.HardLink)]
    public async Task Links_are_refused(TarEntryType type)
    {
        using var output = new MemoryStream();
        await using (var writer = new TarWriter(output, TarEntryFormat.Ustar, leaveOpen: true))
        {
            await writer.WriteEntryAsync(new UstarTarEntry(TarEntryType.RegularFile, "vm.ovf") { DataStream = new MemoryStream(Descriptor) }, Ct);
            await writer.WriteEntryAsync(new UstarTarEntry(type, "vm-disk1.vmdk") { LinkName = "/etc/shadow" }, Ct);
        }

        await AssertRefusedAsync(output.ToArray(), "vm-disk1.vmdk", "regular files only");
    }

    [Fact]
    public async Task An_entry_declared_at_two_to_the_forty_bytes_is_refused_before_reading_it()
    {
        var ova = await OvfSamples.OvaAsync([("vm.ovf", Descriptor), ("vm-disk1.vmdk", Disk)], manifest: false);
        // Rewrite the second header's size field (octal, offset 124) to 2^40 and fix its checksum.
        var header = ova.AsSpan(512 + ((Descriptor.Length + 511) / 512 * 512), 512);
        // 2^40 needs more than the 11 octal digits of the size field: GNU base-256 (a leading 0x80, big-endian).
        header[124..136].Clear();
        header[124] = 0x80;
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(header[128..136], 1L << 40);
        header[148..156].Fill((byte)' ');
        var sum = 0;
        foreach (var b in header)
        {
            sum += b;
        }

        Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(header[148..]);
        await AssertRefusedAsync(ova, "vm-disk1.vmdk", "1099511627776");
    }

    [Fact]
    public async Task The_descriptor_must_come_first_and_reference_only_files_of_the_package()
    {
        await AssertRefusedAsync(await OvfSamples.OvaAsync([("vm-disk1.vmdk", Disk), ("vm.ovf", Descriptor)], manifest: false), "vm-disk1.vmdk", ".ovf descriptor");
        await AssertRefusedAsync(await OvfSamples.OvaAsync([("vm.ovf", Descriptor)], manifest: false), "File", "does not hold");
    }

    private static async Task AssertRefusedAsync(byte[] ova, string element, string reason)
    {
        var directory = NewDirectory();
        var error = await Assert.ThrowsAsync<OvfFormatException>(() => OvaReader.ExtractAsync(new MemoryStream(ova), directory, cancellationToken: Ct));
        Assert.Equal(element, error.Element);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(directory), "The refused package left files behind.");
    }

    private static string NewDirectory() => Path.Combine(Path.GetTempPath(), "hvova-" + Guid.NewGuid().ToString("N")[..12]);
}
