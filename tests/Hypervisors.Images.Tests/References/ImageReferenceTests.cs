namespace Hypervisors.Images.Tests.References;

public sealed class ImageReferenceTests
{
    private const string Sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    [Fact]
    public void A_glance_reference_carries_the_image_id()
    {
        var id = Guid.NewGuid();
        var reference = Assert.IsType<GlanceImageReference>(ImageReference.Parse("glance:" + id));
        Assert.Equal(id, reference.ImageId);
    }

    [Fact]
    public void An_https_reference_carries_its_location_without_the_fragment_and_its_digest()
    {
        var reference = Assert.IsType<DownloadImageReference>(ImageReference.Parse($"https://images.example.org/debian.qcow2#sha256={Sha256.ToUpperInvariant()}"));
        Assert.Equal("https://images.example.org/debian.qcow2", reference.Location.AbsoluteUri);
        Assert.Equal(("sha256", Sha256), (reference.Digest.Algorithm, reference.Digest.Hex));
    }

    [Theory]
    [InlineData("glance:not-a-uuid")]
    [InlineData("https://images.example.org/debian.qcow2")]
    [InlineData("https://images.example.org/debian.qcow2#sha256=abc")]
    [InlineData("https://images.example.org/debian.qcow2#md5=0123456789abcdef0123456789abcdef")]
    [InlineData("https://user:secret@images.example.org/x.qcow2#sha256=" + Sha256)]
    [InlineData("http://images.example.org/x.qcow2#sha256=" + Sha256)]
    [InlineData("ftp://images.example.org/x.qcow2")]
    [InlineData("file:/etc/shadow")]
    [InlineData("")]
    [InlineData("disk\n.qcow2")]
    public void Malformed_references_are_refused_with_a_typed_error(string text)
    {
        var error = Assert.Throws<InvalidImageReferenceException>(() => ImageReference.Parse(text));
        Assert.Equal(HypervisorErrorKind.InvalidSpec, error.Kind);
        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plain_http_is_allowed_to_loopback_only()
    {
        Assert.IsType<DownloadImageReference>(ImageReference.Parse("http://127.0.0.1:8080/x.raw#sha512=" + new string('a', 128)));
    }

    [Fact]
    public void Host_files_resolve_only_inside_the_allowed_directories_links_included()
    {
        var root = Path.Combine(Path.GetTempPath(), "hvref-" + Guid.NewGuid().ToString("N")[..8]);
        var allowed = Directory.CreateDirectory(Path.Combine(root, "allowed")).FullName;
        var outside = Directory.CreateDirectory(Path.Combine(root, "outside")).FullName;
        try
        {
            File.WriteAllText(Path.Combine(allowed, "disk.qcow2"), "x");
            File.WriteAllText(Path.Combine(outside, "secret.img"), "x");
            File.CreateSymbolicLink(Path.Combine(allowed, "link.img"), Path.Combine(outside, "secret.img"));
            var policy = new ImageDirectoryAllowList([allowed]);

            Assert.Equal(Path.Combine(allowed, "disk.qcow2"), policy.ResolveImageFile("disk.qcow2"));
            Assert.Equal(Path.Combine(allowed, "disk.qcow2"), policy.ResolveImageFile(Path.Combine(allowed, "disk.qcow2")));
            Assert.IsType<HostFileImageReference>(ImageReference.Parse("disk.qcow2"));
            Assert.Throws<InvalidImageReferenceException>(() => policy.ResolveImageFile(Path.Combine(outside, "secret.img")));
            Assert.Throws<InvalidImageReferenceException>(() => policy.ResolveImageFile("../outside/secret.img"));
            Assert.Throws<InvalidImageReferenceException>(() => policy.ResolveImageFile(Path.Combine(allowed, "..", "outside", "secret.img")));
            Assert.Throws<InvalidImageReferenceException>(() => policy.ResolveImageFile("link.img"));
            Assert.Throws<InvalidImageReferenceException>(() => policy.ResolveImageFile("/etc/shadow"));
            Assert.Throws<InvalidImageReferenceException>(() => policy.ResolveImageFile("missing.qcow2"));
            Assert.Throws<InvalidImageReferenceException>(() => new ImageDirectoryAllowList([]).ResolveImageFile("disk.qcow2"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
