namespace Hypervisors.Conformance;

/// <summary>Limits the kit applies to every test.</summary>
public static class KitLimits
{
    /// <summary>
    /// A kit test that has not finished after this long fails (3 minutes), so a driver call that never returns
    /// fails its test instead of hanging the whole run.
    /// </summary>
    public const int TestTimeoutMilliseconds = 180_000;
}
