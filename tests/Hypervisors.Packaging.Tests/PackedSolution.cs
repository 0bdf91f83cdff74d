using System.Diagnostics;

namespace Hypervisors.Packaging.Tests;

/// <summary>
/// Packs the already built solution (<c>dotnet pack Drivers.sln --no-build</c>, in the configuration this test
/// assembly was built in) once into a temporary folder, and deletes the folder afterwards.
/// </summary>
public sealed class PackedSolution : IAsyncLifetime
{
    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(5);

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "hypervisors-packages-" + Guid.NewGuid().ToString("N"));

    public string RepositoryRoot { get; } = FindRepositoryRoot();

    public string PackOutput { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(Directory);
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = RepositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "pack", "Drivers.sln", "-c", configuration, "--no-build", "-nologo", "-v", "q", "-o", Directory })
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        using var timeout = new CancellationTokenSource(PackTimeout);
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var errors = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet pack did not finish within {PackTimeout}");
        }
        PackOutput = await output + await errors;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet pack failed ({process.ExitCode}); build the solution first:\n{PackOutput}");
        }
    }

    public ValueTask DisposeAsync()
    {
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        return ValueTask.CompletedTask;
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Drivers.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("Drivers.sln not found above " + AppContext.BaseDirectory);
    }
}
