using Hypervisors.Agent.Client;
using Hypervisors.Agent.Tests.Infrastructure;

namespace Hypervisors.Agent.Tests.Drivers;

/// <summary>A test class with a temporary directory for its secret files, removed after the class's test.</summary>
public abstract class WithSecretFiles : IDisposable
{
    private readonly DirectoryInfo _secrets = Directory.CreateTempSubdirectory("hv-agent-secrets-");

    /// <summary>A file in the temporary directory (readable by its owner only) holding <paramref name="secret"/> and a line break.</summary>
    protected string SecretFile(string name, string secret)
    {
        var path = Path.Combine(_secrets.FullName, name);
        File.WriteAllText(path, secret + "\n");
        return path;
    }

    public void Dispose()
    {
        _secrets.Delete(recursive: true);
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// An allowed image directory holding <c>base.raw</c> (random bytes) and an empty cache directory for the agent's image
/// cache, with the <c>Agent:Images</c> settings that give <paramref name="driver"/> its disks from the cache.
/// </summary>
internal sealed class AgentImageFolders : IDisposable
{
    private readonly DirectoryInfo _images = Directory.CreateTempSubdirectory("hv-agent-images-");
    private readonly DirectoryInfo _cache = Directory.CreateTempSubdirectory("hv-agent-cache-");

    public AgentImageFolders(string driver, int length)
    {
        Bytes = new byte[length];
        Random.Shared.NextBytes(Bytes);
        File.WriteAllBytes(Path.Combine(_images.FullName, "base.raw"), Bytes);
        Settings = new Dictionary<string, string>
        {
            ["Agent:Images:CacheDirectory"] = _cache.FullName,
            ["Agent:Images:AllowedImageDirectories:0"] = _images.FullName,
            ["Agent:Images:Drivers:0"] = driver,
        };
    }

    /// <summary>The bytes of <c>base.raw</c>.</summary>
    public byte[] Bytes { get; }

    public IReadOnlyDictionary<string, string> Settings { get; }

    /// <summary>A small instance whose one disk starts from <c>base.raw</c>, named as a file of the allowed image directory.</summary>
    public static CreateInstanceRequest Request(string name) =>
        new() { Name = name, VCpus = 1, MemoryMiB = 256, Disks = [new DiskSpec(1, "base.raw")] };

    public void Dispose()
    {
        _images.Delete(recursive: true);
        _cache.Delete(recursive: true);
    }
}

/// <summary>
/// The walk every hosted kind makes through the agent's HTTP API: create, start, stop, snapshot and delete, each a
/// journaled operation, with the instance read back over the API after each step.
/// </summary>
internal static class DriverLifecycle
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(110);

    /// <summary>
    /// Drives one instance of <paramref name="driver"/> through its life; deletes it whatever happens.
    /// <paramref name="afterCreate"/> (given the instance id) checks the created instance before it is started.
    /// </summary>
    public static async Task RunAsync(TestAgent agent, string driver, CreateInstanceRequest request, CancellationToken cancellationToken, Func<Guid, Task>? afterCreate = null)
    {
        var client = agent.Client;
        var id = Guid.NewGuid();
        var deleted = false;
        try
        {
            var listed = await client.GetDriversAsync(cancellationToken);
            Assert.Contains(listed, d => d.Name == driver);

            Succeeded(await client.CreateInstanceAsync(driver, id, request with { StartAfterCreate = false }, Wait, cancellationToken), "create");
            var created = await client.GetInstanceAsync(driver, id, cancellationToken);
            Assert.Equal((request.Name, request.VCpus, request.MemoryMiB), (created.Name, created.VCpus, created.MemoryMiB));
            Assert.Equal(PowerState.Shutdown, created.PowerState);
            if (afterCreate is not null)
            {
                await afterCreate(id);
            }

            Succeeded(await client.RunActionAsync(driver, id, "start", Wait, cancellationToken: cancellationToken), "start");
            Assert.Equal(PowerState.Running, (await client.GetInstanceAsync(driver, id, cancellationToken)).PowerState);

            // The test guests have no ACPI handling: the graceful stop ends in a power-off after the timeout.
            Succeeded(await client.RunActionAsync(driver, id, "stop", Wait, timeout: TimeSpan.FromSeconds(3), cancellationToken: cancellationToken), "stop");
            Assert.Equal(PowerState.Shutdown, (await client.GetInstanceAsync(driver, id, cancellationToken)).PowerState);

            var snapshotOperation = Succeeded(await client.CreateSnapshotAsync(driver, id, "before-delete", Wait, cancellationToken: cancellationToken), "snapshot");
            var snapshot = snapshotOperation.ResultAs<SnapshotInfo>();
            Assert.NotNull(snapshot);
            Assert.Equal("before-delete", snapshot.Name);
            var snapshots = await client.ListSnapshotsAsync(driver, id, cancellationToken);
            Assert.Contains(snapshots, s => s.SnapshotId == snapshot.SnapshotId && s.Name == "before-delete");

            Succeeded(await client.DeleteInstanceAsync(driver, id, Wait, cancellationToken: cancellationToken), "delete");
            deleted = true;
            var missing = await Assert.ThrowsAsync<AgentApiException>(() => client.GetInstanceAsync(driver, id, cancellationToken));
            Assert.Equal(404, missing.StatusCode);
            Assert.DoesNotContain(await client.ListInstancesAsync(driver, cancellationToken), i => i.Id == id);
        }
        finally
        {
            if (!deleted)
            {
                try
                {
                    await client.DeleteInstanceAsync(driver, id, Wait, cancellationToken: CancellationToken.None);
                }
                catch (AgentApiException)
                {
                    // Never created, or the peer is gone: nothing to clean.
                }
            }
        }
    }

    private static OperationResource Succeeded(OperationResource operation, string step)
    {
        Assert.True(operation.State == OperationState.Succeeded,
            $"{step}: the operation is {operation.State}: {operation.Error?.Title} {operation.Error?.Detail}");
        return operation;
    }
}
