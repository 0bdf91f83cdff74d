using Hypervisors.Agent.Fleet;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Hypervisors.Agent.Amqp;

/// <summary>
/// Keeps the agent joined to the broker: connects (refusing to start on bad credentials), runs a
/// <see cref="AmqpSession"/> until the connection breaks, the broker cancels a consumer or the self-probe finds the
/// agent deaf, then reconnects with a growing pause. Stops consuming first on shutdown.
/// </summary>
internal sealed class AmqpAgentService(
    IOptions<BrokerOptions> brokerOptions,
    IOptions<AmqpAgentOptions> agentOptions,
    AmqpSessionFactory sessions,
    AmqpHealth health,
    ILogger<AmqpAgentService> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _loop = Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        AmqpSession? first = null;
        try
        {
            first = await sessions.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (IsAuthenticationFailure(exception))
        {
            var broker = brokerOptions.Value;
            throw new InvalidOperationException(
                $"RabbitMQ refused the agent's credentials: user '{broker.User}' on virtual host '{broker.VirtualHost}' " +
                $"(password from {(broker.PasswordFile is null ? "the configuration" : "Agent:Amqp:PasswordFile")}). " +
                "Check Agent:Amqp:User and the password file; the agent does not start with credentials the broker refuses.", exception);
        }
        catch (Exception exception) when (exception is BrokerUnreachableException or OperationInterruptedException or IOException or TimeoutException)
        {
            // The broker may come later: keep trying in the background, not ready meanwhile.
            AmqpLog.ConnectFailed(logger, agentOptions.Value.ReconnectDelay, exception);
            health.Set(false, "broker unreachable: " + exception.Message);
        }

        _loop = RunAsync(first, _stopping.Token);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public void Dispose() => _stopping.Dispose();

    private async Task RunAsync(AmqpSession? session, CancellationToken stopping)
    {
        var delay = agentOptions.Value.ReconnectDelay;
        while (!stopping.IsCancellationRequested)
        {
            if (session is null)
            {
                try
                {
                    session = await sessions.OpenAsync(stopping).ConfigureAwait(false);
                    delay = agentOptions.Value.ReconnectDelay;
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception exception)
                {
                    AmqpLog.ConnectFailed(logger, delay, exception);
                    health.Set(false, "broker unreachable: " + exception.Message);
                    try
                    {
                        await Task.Delay(delay, stopping).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }

                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, agentOptions.Value.MaxReconnectDelay.Ticks));
                    continue;
                }
            }

            await using (session.ConfigureAwait(false))
            {
                var reason = await session.RunAsync(stopping).ConfigureAwait(false);
                health.Set(false, reason);
                if (!stopping.IsCancellationRequested)
                {
                    AmqpLog.ConnectionLost(logger, reason);
                }
            }

            session = null;
        }
    }

    private static bool IsAuthenticationFailure(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is AuthenticationFailureException or PossibleAuthenticationFailureException)
            {
                return true;
            }
        }

        return false;
    }
}
