using System.Net;
using HyperVSimulator.Virtualization;
using HyperVSimulator.WsMan;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace HyperVSimulator;

/// <summary>
/// The simulator as a running server on a loopback port: used by the command line entry point, and started
/// in-process by tests and the benchmark. Dispose to stop it.
/// </summary>
public sealed class HyperVSimulatorServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HyperVSimulatorServer(WebApplication app, HyperVHost host, Uri endpoint)
    {
        _app = app;
        Host = host;
        Endpoint = endpoint;
    }

    /// <summary>The simulated host, for inspecting state and injecting behaviour.</summary>
    public HyperVHost Host { get; }

    /// <summary>The WS-Man endpoint, <c>http://127.0.0.1:PORT/wsman</c> (https with a certificate).</summary>
    public Uri Endpoint { get; }

    /// <summary>Starts a simulator on 127.0.0.1:<paramref name="port"/> (0 picks a free port).</summary>
    public static async Task<HyperVSimulatorServer> StartAsync(HyperVSimulatorOptions? options = null, int port = 0, CancellationToken cancellationToken = default)
    {
        options ??= new HyperVSimulatorOptions();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, Hypervisors.Fakes.HostedWithoutSignals>();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, port, listen =>
            {
                if (options.Certificate is not null)
                {
                    listen.UseHttps(options.Certificate);
                }
            });
            k.Limits.MaxRequestBodySize = options.MaxEnvelopeSize + 1L;
        });
        var app = builder.Build();
        var host = new HyperVHost(options);
        var endpoint = new WsManEndpoint(host);
        app.MapPost("/wsman", endpoint.HandleAsync);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var bound = new Uri(address);
        return new HyperVSimulatorServer(app, host, new UriBuilder(options.Certificate is null ? "http" : "https", "127.0.0.1", bound.Port, "/wsman").Uri);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Host.Dispose();
    }
}
