using Hypervisors.Fake;

[assembly: Hypervisors.HypervisorDriverKind(typeof(Hypervisors.Fake.FakeDriverKind))]

namespace Hypervisors.Fake;

/// <summary>
/// The <c>fake</c> driver kind: <c>Kind = "fake"</c> in a driver's configuration section hosts an in-memory
/// <see cref="FakeHypervisorDriver"/> bound from the rest of the section (<c>HostName</c>, <c>VCpus</c>,
/// <c>MemoryMiB</c>, <c>AllowedHostDirectories</c>, ...), checked when the host starts.
/// </summary>
public sealed class FakeDriverKind : HypervisorDriverKind<FakeHypervisorOptions>
{
    /// <inheritdoc />
    public override string Kind => "fake";

    /// <inheritdoc />
    protected override IEnumerable<string> Validate(FakeHypervisorOptions options, string keyPrefix)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (var failure in options.Validate())
        {
            // Each failure starts with the setting's name ("VCpus must be at least 1, ..."): "{prefix}:VCpus: must be ...".
            var space = failure.IndexOf(' ', StringComparison.Ordinal);
            yield return space > 0 ? $"{keyPrefix}:{failure[..space]}: {failure[(space + 1)..]}" : $"{keyPrefix}: {failure}";
        }

        foreach (var failure in HostPathPolicy.Validate(options.AllowedHostDirectories, $"{keyPrefix}:{nameof(FakeHypervisorOptions.AllowedHostDirectories)}"))
        {
            yield return failure;
        }
    }

    /// <inheritdoc />
    protected override IHypervisorDriver Create(DriverServices services, FakeHypervisorOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        return new FakeHypervisorDriver(options, services.TimeProvider);
    }
}
