using System.Diagnostics;
using System.Net;
using Hypervisors.Testing;

namespace Hypervisors.Esx.Tests.Vcsim;

/// <summary>
/// One vcsim (the project's launcher in fakes/vcsim) as a child process: started on a free loopback port (or a
/// given one, to restart in place), its first stdout line parsed for the SDK URL, datastore and TLS thumbprints.
/// Stopped by closing its standard input, so it removes its temporary datastore.
/// </summary>
public sealed class VcsimServer : IAsyncDisposable
{
    public const string UserName = "esx-tests";
    public const string Password = "s3cret&<pass>";

    private readonly Process _process;

    private VcsimServer(Process process, IReadOnlyDictionary<string, string> fields, bool vcenter, bool tls)
    {
        _process = process;
        Url = new Uri(fields["url"]);
        Datastore = fields["datastore"];
        DatastoreDirectory = fields["dsdir"];
        Sha256 = fields.GetValueOrDefault("sha256");
        Sha1 = fields.GetValueOrDefault("sha1");
        IsVCenter = vcenter;
        IsTls = tls;
    }

    /// <summary>The launcher binary that .ci/setup/30-vcsim.sh builds.</summary>
    public static string LauncherPath { get; } = FindLauncher();

    public static bool IsAvailable => File.Exists(LauncherPath);

    public Uri Url { get; }

    public string Datastore { get; }

    public string DatastoreDirectory { get; }

    public string? Sha256 { get; }

    public string? Sha1 { get; }

    public bool IsVCenter { get; }

    public bool IsTls { get; }

    /// <summary>Starts vcsim; skips locally (fails under CI) when the launcher has not been built.</summary>
    public static async Task<VcsimServer> StartAsync(bool vcenter, bool tls, int port = 0)
    {
        ExternalParts.Require(IsAvailable, "vcsim (fakes/vcsim/vcsim-launcher, built by .ci/setup/30-vcsim.sh)");
        var info = new ProcessStartInfo(LauncherPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-stdin");
        info.ArgumentList.Add("-port");
        info.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        info.ArgumentList.Add("-username");
        info.ArgumentList.Add(UserName);
        info.ArgumentList.Add("-password");
        info.ArgumentList.Add(Password);
        if (vcenter)
        {
            info.ArgumentList.Add("-vpx");
        }

        if (tls)
        {
            info.ArgumentList.Add("-tls");
        }

        for (var attempt = 0; ; attempt++)
        {
            var process = Process.Start(info) ?? throw new InvalidOperationException("The vcsim launcher did not start.");
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
            if (line is not null)
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    .Select(p => p.Split('=', 2))
                    .ToDictionary(p => p[0], p => WebUtility.UrlDecode(p[1]), StringComparer.Ordinal);
                return new VcsimServer(process, fields, vcenter, tls);
            }

            var error = await process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            process.Dispose();
            if (attempt >= 20 || port == 0)
            {
                throw new InvalidOperationException("The vcsim launcher exited before printing its URL: " + error);
            }

            await Task.Delay(250, timeout.Token); // the old process may still hold the port
        }
    }

    /// <summary>Stops this vcsim and starts a fresh one (empty inventory, no sessions) on the same port.</summary>
    public async Task<VcsimServer> RestartAsync()
    {
        await DisposeAsync();
        return await StartAsync(IsVCenter, IsTls, Url.Port);
    }

    /// <summary>Provisions an empty VMDK in the datastore, as a storage layer would, and returns its datastore path.</summary>
    public string CreateVolumeFile(string volumeId)
    {
        var name = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(volumeId)))[..16] + ".vmdk";
        var directory = Path.Combine(DatastoreDirectory, "kit-volumes");
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, name), []); // the descriptor
        File.WriteAllBytes(Path.Combine(directory, name.Replace(".vmdk", "-flat.vmdk", StringComparison.Ordinal)), []); // and its extent
        return $"[{Datastore}] kit-volumes/{name}";
    }

    public EsxDriverOptions CreateOptions(bool pin = true)
    {
        var options = new EsxDriverOptions
        {
            Url = Url,
            UserName = UserName,
            Password = Password,
            SoftReboot = false, // vcsim 0.24 has no RebootGuest
            VerifyNewIdsOnServer = false, // vcsim 0.24's FindByUuid panics beside a running create (the kit creates in parallel)
            RequestTimeout = TimeSpan.FromSeconds(30),
        };
        if (pin && Sha256 is not null)
        {
            options.Tls.PinnedSha256Thumbprints.Add(Sha256);
        }

        return options;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.StandardInput.Close();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }

        _process.Dispose();
    }

    private static string FindLauncher()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "fakes", "vcsim", "vcsim-launcher");
            if (File.Exists(candidate) || Directory.Exists(Path.Combine(dir.FullName, "fakes", "vcsim")))
            {
                return candidate;
            }
        }

        return "fakes/vcsim/vcsim-launcher";
    }
}
