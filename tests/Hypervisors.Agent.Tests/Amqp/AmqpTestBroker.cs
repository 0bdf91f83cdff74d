using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Hypervisors.Agent.Fleet;
using Hypervisors.Testing;
using RabbitMQ.Client;

namespace Hypervisors.Agent.Tests.Amqp;

/// <summary>
/// A place on a broker for one test: its own control exchange and topic (so parallel tests and the shared broker's
/// other users never see each other's queues), the agent settings that point there, and a clean-up that deletes
/// the queues the agents declared.
/// </summary>
internal sealed class AmqpTestScope : IAsyncDisposable
{
    private readonly List<string> _hosts = [];

    public AmqpTestScope(int port)
    {
        Port = port;
        var tag = Guid.NewGuid().ToString("N")[..10];
        Topic = "compute-" + tag;
        ControlExchange = "hvtest-" + tag;
    }

    public int Port { get; }

    public string Topic { get; }

    public string ControlExchange { get; }

    public FleetTopology Topology => new(ControlExchange, Topic);

    /// <summary>The shared broker on 127.0.0.1:5672 (started by .ci/setup/55-rabbitmq.sh); skips or fails when it is not running.</summary>
    public static AmqpTestScope OnSharedBroker()
    {
        ExternalParts.Require(IsListening(5672), "RabbitMQ on 127.0.0.1:5672");
        return new AmqpTestScope(5672);
    }

    public BrokerOptions Broker(string? password = null)
    {
        var options = new BrokerOptions { ControlExchange = ControlExchange, Topic = Topic, Password = password ?? "guest", ConnectionHeartbeat = TimeSpan.FromSeconds(5) };
        options.Endpoints.Add($"127.0.0.1:{Port}");
        return options;
    }

    /// <summary>The agent settings for joining this scope as <paramref name="host"/>.</summary>
    public Dictionary<string, string> AgentSettings(string host, string? passwordFile = null, TimeSpan? probeInterval = null, int deliveryLimit = 5)
    {
        _hosts.Add(host);
        var settings = new Dictionary<string, string>
        {
            ["Agent:Amqp:Endpoints:0"] = $"127.0.0.1:{Port}",
            ["Agent:Amqp:Host"] = host,
            ["Agent:Amqp:Topic"] = Topic,
            ["Agent:Amqp:ControlExchange"] = ControlExchange,
            ["Agent:Amqp:ReportInterval"] = "00:00:00.500",
            ["Agent:Amqp:ProbeInterval"] = (probeInterval ?? TimeSpan.FromSeconds(1)).ToString("c", System.Globalization.CultureInfo.InvariantCulture),
            ["Agent:Amqp:ProbeTimeout"] = "00:00:03",
            ["Agent:Amqp:ReconnectDelay"] = "00:00:00.200",
            ["Agent:Amqp:MaxReconnectDelay"] = "00:00:02",
            ["Agent:Amqp:DeliveryLimit"] = deliveryLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Agent:Amqp:ConnectionHeartbeat"] = "00:00:05",
        };
        if (passwordFile is not null)
        {
            settings["Agent:Amqp:PasswordFile"] = passwordFile;
        }

        return settings;
    }

    /// <summary>A raw channel on the broker, for tests that act as the broker's operator or a foreign publisher.</summary>
    public async Task<(IConnection Connection, IChannel Channel)> OpenChannelAsync(CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory { HostName = "127.0.0.1", Port = Port, UserName = "guest", Password = "guest" };
        var connection = await factory.CreateConnectionAsync(cancellationToken);
        return (connection, await connection.CreateChannelAsync(cancellationToken: cancellationToken));
    }

    public async ValueTask DisposeAsync()
    {
        if (!IsListening(Port))
        {
            return;
        }

        try
        {
            var (connection, channel) = await OpenChannelAsync(CancellationToken.None);
            await using (connection)
            await using (channel)
            {
                foreach (var queue in _hosts.Select(Topology.HostQueue).Append(Topology.SharedQueue).Append(Topology.DeadLetterQueue))
                {
                    await channel.QueueDeleteAsync(queue, false, false);
                }

                foreach (var exchange in new[] { ControlExchange, Topology.EventsExchange, Topology.DeadLetterExchange })
                {
                    await channel.ExchangeDeleteAsync(exchange, false);
                }
            }
        }
        catch (Exception exception) when (exception is RabbitMQ.Client.Exceptions.BrokerUnreachableException or RabbitMQ.Client.Exceptions.OperationInterruptedException or IOException)
        {
            // Best effort: a test broker that is already gone takes its queues with it.
        }
    }

    public static bool IsListening(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

/// <summary>
/// A RabbitMQ node of the test's own (own node name, ports, data and config directories), so a test may stop and
/// restart it without touching the shared broker.
/// </summary>
internal sealed class PrivateRabbitNode : IAsyncDisposable
{
    private const string ServerScript = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    private readonly string _directory;
    private Process? _process;

    private PrivateRabbitNode(string directory, int port, int distributionPort, int? tlsPort)
    {
        _directory = directory;
        Port = port;
        DistributionPort = distributionPort;
        TlsPort = tlsPort;
    }

    public int Port { get; }

    /// <summary>The AMQPS listener's port when the node was started with TLS files; the plain listener stays on <see cref="Port"/>.</summary>
    public int? TlsPort { get; }

    public int DistributionPort { get; }

    public static bool IsInstalled => File.Exists(ServerScript);

    public static Task<PrivateRabbitNode> StartAsync(CancellationToken cancellationToken) => StartAsync(null, cancellationToken);

    /// <summary>Starts a node; with <paramref name="tls"/> it also listens for AMQPS with those PEM files (no client certificates asked).</summary>
    public static async Task<PrivateRabbitNode> StartAsync(RabbitTlsFiles? tls, CancellationToken cancellationToken)
    {
        ExternalParts.Require(IsInstalled, "rabbitmq-server");
        var directory = Directory.CreateTempSubdirectory("hv-rabbit-").FullName;
        var node = new PrivateRabbitNode(directory, FreePort(), FreePort(), tls is null ? null : FreePort());
        var config = new System.Text.StringBuilder()
            .Append(System.Globalization.CultureInfo.InvariantCulture, $"listeners.tcp.default = 127.0.0.1:{node.Port}\n")
            .Append("loopback_users = none\n");
        if (tls is not null)
        {
            config.Append(System.Globalization.CultureInfo.InvariantCulture, $"listeners.ssl.default = 127.0.0.1:{node.TlsPort}\n")
                .Append(System.Globalization.CultureInfo.InvariantCulture, $"ssl_options.cacertfile = {tls.CaCertificateFile}\n")
                .Append(System.Globalization.CultureInfo.InvariantCulture, $"ssl_options.certfile = {tls.CertificateFile}\n")
                .Append(System.Globalization.CultureInfo.InvariantCulture, $"ssl_options.keyfile = {tls.KeyFile}\n")
                .Append("ssl_options.verify = verify_none\n")
                .Append("ssl_options.fail_if_no_peer_cert = false\n");
        }

        await File.WriteAllTextAsync(Path.Combine(directory, "rabbitmq.conf"), config.ToString(), cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(directory, "enabled_plugins"), "[].\n", cancellationToken);
        await node.StartProcessAsync(cancellationToken);
        return node;
    }

    /// <summary>Stops the node (SIGTERM, as an operator's restart does) and waits until it is gone.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            var beam = await ReadBeamPidAsync();
            if (beam > 0)
            {
                using var kill = Process.Start("kill", ["-TERM", beam.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                await kill!.WaitForExitAsync();
            }
            else
            {
                process.Kill(entireProcessTree: true);
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);
            process.Dispose();
            _process = null;
        }
    }

    public Task StartAgainAsync(CancellationToken cancellationToken) => StartProcessAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (OperationCanceledException)
        {
            _process?.Kill(entireProcessTree: true);
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // The node's last log writes may race the delete; the temp directory is left behind then.
        }
    }

    private async Task StartProcessAsync(CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(ServerScript)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _directory,
        };
        var environment = start.Environment;
        environment["HOME"] = _directory;
        environment["RABBITMQ_NODENAME"] = $"hvtest{Port}@localhost";
        environment["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1";
        environment["RABBITMQ_NODE_PORT"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        environment["RABBITMQ_DIST_PORT"] = DistributionPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        environment["RABBITMQ_MNESIA_BASE"] = Path.Combine(_directory, "mnesia");
        environment["RABBITMQ_LOG_BASE"] = Path.Combine(_directory, "log");
        environment["RABBITMQ_CONFIG_FILE"] = Path.Combine(_directory, "rabbitmq.conf");
        environment["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(_directory, "enabled_plugins");
        environment["RABBITMQ_PLUGINS_EXPAND_DIR"] = Path.Combine(_directory, "plugins");
        environment["RABBITMQ_PID_FILE"] = Path.Combine(_directory, "pid");
        environment["ERL_EPMD_ADDRESS"] = "127.0.0.1";
        File.Delete(Path.Combine(_directory, "pid"));
        var process = Process.Start(start) ?? throw new InvalidOperationException("rabbitmq-server did not start.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        var started = Stopwatch.StartNew();
        while (!AmqpTestScope.IsListening(Port) || (TlsPort is { } tlsPort && !AmqpTestScope.IsListening(tlsPort)))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The test's RabbitMQ node exited ({process.ExitCode}); see {_directory}/log.");
            }

            if (started.Elapsed > TimeSpan.FromSeconds(120))
            {
                throw new TimeoutException("The test's RabbitMQ node did not listen within 120 s.");
            }

            await Task.Delay(200, cancellationToken);
        }
    }

    private async Task<int> ReadBeamPidAsync()
    {
        var file = Path.Combine(_directory, "pid");
        return File.Exists(file) && int.TryParse((await File.ReadAllTextAsync(file)).Trim(), System.Globalization.CultureInfo.InvariantCulture, out var pid) ? pid : 0;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>The PEM files a TLS listener of <see cref="PrivateRabbitNode"/> serves.</summary>
internal sealed record RabbitTlsFiles(string CaCertificateFile, string CertificateFile, string KeyFile);
