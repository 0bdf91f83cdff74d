namespace Hypervisors.Uml.Tests;

/// <summary>
/// The test executable's entry point: xunit's runner, or, with <c>uml-driver-host ROOT ID...</c>, a driver in a
/// process of its own that boots one guest per id and then waits to be killed (see <see cref="UmlReadoptionTests"/>).
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args is ["uml-driver-host", var root, .. var ids])
        {
            return RunDriverHostAsync(root, ids).GetAwaiter().GetResult();
        }

        if (args.Any(arg => arg is "--server" or "--internal-msbuild-node"))
        {
            return Xunit.MicrosoftTestingPlatform.TestPlatformTestFramework.RunAsync(args, SelfRegisteredExtensions.AddSelfRegisteredExtensions).GetAwaiter().GetResult();
        }

        return Xunit.Runner.InProc.SystemConsole.ConsoleRunner.Run(args).GetAwaiter().GetResult();
    }

    private static async Task<int> RunDriverHostAsync(string root, string[] ids)
    {
        var host = new UmlTestHost(root, owned: false);
        var driver = new UmlDriver(host.Options());
        foreach (var id in ids.Select(Guid.Parse))
        {
            await driver.CreateInstanceAsync(host.Spec(id, "adopt-" + id.ToString("N")[..6]) with { StartAfterCreate = true });
            Console.WriteLine("STARTED " + id);
        }

        Console.WriteLine("READY");
        Console.Out.Flush();

        // Wait to be killed; the driver is deliberately never disposed.
        await Task.Delay(Timeout.Infinite);
        GC.KeepAlive(driver);
        return 0;
    }
}
