namespace Hypervisors.Conformance;

/// <summary>
/// What the kit needs from a fixture beyond the driver contract: ways to set up states the contract promises to
/// handle but cannot itself reach. A fixture overrides the matching virtual member of <see cref="DriverFixture"/>,
/// or names the hook in <see cref="DriverFixture.MissingHooks"/> with the reason it cannot.
/// </summary>
public enum FixtureHook
{
    /// <summary><see cref="DriverFixture.CrashInstanceAsync"/>: a running instance crashes.</summary>
    CrashInstance,

    /// <summary><see cref="DriverFixture.SlowDownAsync"/>: one operation is slow at the peer, so it can be cancelled mid-call.</summary>
    SlowOperation,

    /// <summary><see cref="DriverFixture.FillHostAsync"/>: the host has no free capacity left.</summary>
    FillHost,

    /// <summary><see cref="DriverFixture.WriteConsoleAsync"/>: the guest writes to its serial console.</summary>
    WriteConsole,

    /// <summary><see cref="DriverFixture.CreateOwnDriverAsync"/>: a driver the test owns and disposes.</summary>
    OwnDriver,
}
