namespace Hypervisors.Testing;

/// <summary>
/// Gate for tests that need a real part (libvirtd, vcsim, python3, wsl): on a developer's machine a missing
/// part skips the test with the reason; under CI (CI=true) it fails it, since CI installs every part.
/// </summary>
internal static class ExternalParts
{
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static void Require(bool available, string what)
    {
        if (available)
        {
            return;
        }

        var reason = $"{what} is not available on this machine; `bash tests/test.sh` installs and starts it.";
        if (IsCi)
        {
            Assert.Fail(reason);
        }

        Assert.Skip(reason);
    }
}
