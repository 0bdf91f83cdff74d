using System.IO.Compression;
using System.Xml;
using System.Xml.Linq;

namespace Hypervisors.Packaging.Tests;

/// <summary>Opens each package the solution packs and checks what a user of it gets: docs, README, symbols, source link.</summary>
public sealed class PackageContentTests(PackedSolution packed) : IClassFixture<PackedSolution>
{
    private const string Version = "0.1.0";

    /// <summary>Packages built with HypervisorsPackage=true (eng/Package.props), with the project folder of each.</summary>
    public static TheoryData<string, string> Packages { get; } = new()
    {
        { "Hypervisors", "src/Hypervisors/Hypervisors" },
        { "Hypervisors.Esx", "src/Hypervisors/Hypervisors.Esx" },
        { "Hypervisors.Xen", "src/Hypervisors/Hypervisors.Xen" },
        { "Hypervisors.HyperV", "src/Hypervisors/Hypervisors.HyperV" },
        { "Hypervisors.Libvirt", "src/Hypervisors/Hypervisors.Libvirt" },
        { "Hypervisors.Uml", "src/Hypervisors/Hypervisors.Uml" },
        { "Hypervisors.Images", "src/Hypervisors/Hypervisors.Images" },
        { "Hypervisors.Agent.Client", "src/Agent/Hypervisors.Agent.Client" },
        { "Hypervisors.Agent.Fleet", "src/Agent/Hypervisors.Agent.Fleet" },
        { "Hypervisors.Fake", "fakes/Hypervisors.Fake" },
        { "Hypervisors.Conformance", "tests/Hypervisors.Conformance" },
    };

    [Fact]
    public void EveryPackedPackageIsListed()
    {
        var packedIds = Directory.GetFiles(packed.Directory, "*.nupkg").Select(PackageId).Order(StringComparer.Ordinal);
        var listed = Packages.Select(row => row.Data.Item1).Order(StringComparer.Ordinal);
        Assert.Equal(listed, packedIds);
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void PackageShipsXmlDocsForItsAssembly(string id, string projectDirectory)
    {
        _ = projectDirectory;
        using var package = ZipFile.OpenRead(PackagePath(id, "nupkg"));
        var docsEntry = package.GetEntry($"lib/net10.0/{id}.xml");
        Assert.NotNull(docsEntry);
        Assert.NotNull(package.GetEntry($"lib/net10.0/{id}.dll"));
        using var stream = docsEntry.Open();
        var docs = XDocument.Load(XmlReader.Create(stream, new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit }));
        Assert.Equal(id, docs.Root?.Element("assembly")?.Element("name")?.Value);
        Assert.Contains(docs.Root!.Element("members")!.Elements("member"), member => member.Element("summary") is not null);
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void PackageShipsTheProjectReadmeAsItsReadme(string id, string projectDirectory)
    {
        using var package = ZipFile.OpenRead(PackagePath(id, "nupkg"));
        var nuspec = LoadNuspec(package, id);
        var metadata = nuspec.Root!.Elements().Single(element => element.Name.LocalName == "metadata");
        Assert.Equal("README.md", metadata.Elements().Single(element => element.Name.LocalName == "readme").Value);

        var readmeEntry = package.GetEntry("README.md");
        Assert.NotNull(readmeEntry);
        using var reader = new StreamReader(readmeEntry.Open());
        var projectReadme = Path.Combine(packed.RepositoryRoot, projectDirectory, "README.md");
        var expected = File.Exists(projectReadme) ? projectReadme : Path.Combine(packed.RepositoryRoot, "README.md");
        Assert.Equal(File.ReadAllText(expected), reader.ReadToEnd());
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void PackageHasASymbolPackageWithItsPdbAndSourceControlInformation(string id, string projectDirectory)
    {
        _ = projectDirectory;
        using (var symbols = ZipFile.OpenRead(PackagePath(id, "snupkg")))
        {
            Assert.NotNull(symbols.GetEntry($"lib/net10.0/{id}.pdb"));
        }

        // SourceLink's git information (Microsoft.Build.Tasks.Git, part of the SDK) names the commit the package was
        // built from; the repository URL is added from the git remote where there is one.
        using var package = ZipFile.OpenRead(PackagePath(id, "nupkg"));
        var metadata = LoadNuspec(package, id).Root!.Elements().Single(element => element.Name.LocalName == "metadata");
        var repository = metadata.Elements().SingleOrDefault(element => element.Name.LocalName == "repository");
        Assert.NotNull(repository);
        Assert.Matches("^[0-9a-f]{40}$", (string?)repository.Attribute("commit") ?? "");
    }

    private string PackagePath(string id, string extension)
    {
        var path = Path.Combine(packed.Directory, $"{id}.{Version}.{extension}");
        Assert.True(File.Exists(path), $"{Path.GetFileName(path)} was not packed; dotnet pack said:\n{packed.PackOutput}");
        return path;
    }

    private static XDocument LoadNuspec(ZipArchive package, string id)
    {
        var entry = package.GetEntry($"{id}.nuspec");
        Assert.NotNull(entry);
        using var stream = entry.Open();
        return XDocument.Load(XmlReader.Create(stream, new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit }));
    }

    private static string PackageId(string nupkgPath)
    {
        var name = Path.GetFileNameWithoutExtension(nupkgPath);
        return name.EndsWith("." + Version, StringComparison.Ordinal) ? name[..^(Version.Length + 1)] : name;
    }
}
