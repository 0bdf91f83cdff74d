using System.Collections.Concurrent;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hypervisors.Agent.Tests.Infrastructure;

/// <summary>An agent running in this process on Kestrel at 127.0.0.1 (a free port), with its own data folder.</summary>
internal sealed class TestAgent : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly bool _ownsDirectory;

    private TestAgent(WebApplication app, string dataDirectory, bool ownsDirectory, CapturedLogs logs, string? token)
    {
        _app = app;
        DataDirectory = dataDirectory;
        _ownsDirectory = ownsDirectory;
        Logs = logs;
        BaseAddress = new Uri(app.Urls.First());
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        Client = new AgentClient(Http, token);
    }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    public AgentClient Client { get; }

    public string DataDirectory { get; }

    public CapturedLogs Logs { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<TestAgent> StartAsync(IReadOnlyDictionary<string, string>? settings = null, string? dataDirectory = null, string? token = null, string listen = "http://127.0.0.1:0",
        Action<IServiceCollection>? services = null)
    {
        var ownsDirectory = dataDirectory is null;
        dataDirectory ??= Directory.CreateTempSubdirectory("hv-agent-test-").FullName;
        var args = new List<string>
        {
            $"--Agent:Listen:0={listen}",
            $"--Agent:DataDirectory={dataDirectory}",
            "--Agent:PowerSyncInterval=01:00:00",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Hypervisors.Agent=Debug",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            args.Add($"--{key}={value}");
        }

        var logs = new CapturedLogs();
        var app = AgentApplication.Build([.. args], builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Debug);
            builder.Logging.AddProvider(logs);
            services?.Invoke(builder.Services);
        });
        try
        {
            await app.StartAsync(TestContext.Current.CancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return new TestAgent(app, dataDirectory, ownsDirectory, logs, token);
    }

    /// <summary>Stops the agent as SIGTERM would (the drain runs), without disposing it.</summary>
    public Task StopAsync() => _app.StopAsync(CancellationToken.None);

    public T Service<T>()
        where T : notnull => _app.Services.GetRequiredService<T>();

    public IHypervisorDriver Driver(string name = "local") => Service<IHypervisorDriverRegistry>().Get(name);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        if (_ownsDirectory)
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
    }
}

/// <summary>Every log message the agent wrote, rendered, for assertions about what is (not) logged.</summary>
internal sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<(string Category, EventId EventId, string Message, LogLevel Level, DateTime At)> _entries = new();

    public IReadOnlyCollection<(string Category, EventId EventId, string Message, LogLevel Level, DateTime At)> Entries => _entries;

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<(string, EventId, string, LogLevel, DateTime)> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue((category, eventId, formatter(state, exception) + (exception is null ? string.Empty : " " + exception), logLevel, DateTime.UtcNow));
    }
}

internal static class Specs
{
    public static CreateInstanceRequest Small(string name, int vcpus = 1, long memoryMiB = 256, bool start = false) =>
        new() { Name = name, VCpus = vcpus, MemoryMiB = memoryMiB, StartAfterCreate = start };
}
