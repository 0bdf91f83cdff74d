using Microsoft.Extensions.Options;

namespace Hypervisors.Fake;

/// <summary>Validates every named <see cref="FakeHypervisorOptions"/> with <see cref="FakeHypervisorOptions.Validate"/>.</summary>
public sealed class FakeHypervisorOptionsValidator : IValidateOptions<FakeHypervisorOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, FakeHypervisorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        return errors.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(errors.Select(e => $"Fake hypervisor '{name}': {e}"));
    }
}
