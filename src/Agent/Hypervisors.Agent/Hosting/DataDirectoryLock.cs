using System.Globalization;
using Hypervisors.Agent.Configuration;

namespace Hypervisors.Agent.Hosting;

/// <summary>
/// An exclusive lock on the data directory (<c>agent.lock</c>, held open without sharing, which .NET backs with
/// <c>flock</c>), so a second agent on the same directory refuses to start instead of reconciling the same
/// operations. The holder's pid is in <c>agent.pid</c>; the lock goes with the process, even on SIGKILL.
/// </summary>
internal sealed class DataDirectoryLock : IDisposable
{
    private readonly FileStream _lock;

    private DataDirectoryLock(FileStream heldLock) => _lock = heldLock;

    public static DataDirectoryLock Acquire(string dataDirectory)
    {
        try
        {
            Directory.CreateDirectory(dataDirectory);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw AgentStartupException.Setting("Agent:DataDirectory", $"cannot create '{dataDirectory}': {exception.Message}", exception);
        }

        var lockPath = Path.Combine(dataDirectory, "agent.lock");
        var pidPath = Path.Combine(dataDirectory, "agent.pid");
        FileStream held;
        try
        {
            held = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException exception)
        {
            var holder = ReadPid(pidPath);
            throw AgentStartupException.Setting("Agent:DataDirectory",
                $"'{dataDirectory}' is in use by another agent{(holder is null ? string.Empty : $" (pid {holder})")}; each agent needs its own data directory.", exception);
        }
        catch (UnauthorizedAccessException exception)
        {
            throw AgentStartupException.Setting("Agent:DataDirectory", $"cannot lock '{lockPath}': {exception.Message}", exception);
        }

        try
        {
            File.WriteAllText(pidPath, Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            held.Dispose();
            throw AgentStartupException.Setting("Agent:DataDirectory", $"cannot write '{pidPath}': {exception.Message}", exception);
        }

        return new DataDirectoryLock(held);
    }

    public void Dispose() => _lock.Dispose();

    private static string? ReadPid(string pidPath)
    {
        try
        {
            var text = File.ReadAllText(pidPath).Trim();
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid.ToString(CultureInfo.InvariantCulture) : null;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
