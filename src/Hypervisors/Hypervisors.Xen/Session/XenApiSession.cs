using Hypervisors.Xen.Wire;

namespace Hypervisors.Xen.Session;

/// <summary>
/// A logged-in XenAPI session over a <see cref="XenApiRpcClient"/>. <see cref="CallAsync(string, CancellationToken, object?[])"/> puts the session
/// reference first; when the server answers <c>SESSION_INVALID</c> (the session expired or was killed) it logs in
/// again once and repeats the call. Concurrent callers that hit the same dead session share one re-login.
/// </summary>
internal sealed class XenApiSession : IAsyncDisposable
{
    private const string ApiVersion = "1.0";

    private readonly XenApiRpcClient _rpc;
    private readonly Func<CancellationToken, ValueTask<XenCredentials>> _credentials;
    private readonly string _originator;
    private readonly SemaphoreSlim _loginGate = new(1, 1);
    private string? _sessionRef;
    private int _loginCount;

    /// <summary>Creates the session; nothing is sent until the first call.</summary>
    public XenApiSession(XenApiRpcClient rpc, Func<CancellationToken, ValueTask<XenCredentials>> credentials, string originator)
    {
        _rpc = rpc ?? throw new ArgumentNullException(nameof(rpc));
        _credentials = credentials ?? throw new ArgumentNullException(nameof(credentials));
        _originator = originator ?? throw new ArgumentNullException(nameof(originator));
    }

    /// <summary>How many times this session has logged in (1 after the first call, more after re-logins).</summary>
    public int LoginCount => Volatile.Read(ref _loginCount);

    /// <summary>The wire client.</summary>
    public XenApiRpcClient Rpc => _rpc;

    /// <summary>Raised after a re-login caused by <c>SESSION_INVALID</c>.</summary>
    public event EventHandler? Relogged;

    /// <summary>Calls a session-taking method: <paramref name="parameters"/> follow the session reference.</summary>
    public Task<object?> CallAsync(string method, CancellationToken cancellationToken, params object?[] parameters) =>
        CallAsync(method, parameters, TimeSpan.Zero, cancellationToken);

    /// <summary>Calls a session-taking method, allowing <paramref name="extraTimeout"/> beyond the request timeout.</summary>
    public async Task<object?> CallAsync(string method, object?[] parameters, TimeSpan extraTimeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var session = await GetSessionAsync(null, cancellationToken).ConfigureAwait(false);
        try
        {
            return await _rpc.CallAsync(method, WithSession(session, parameters), extraTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (XenApiFailureException ex) when (ex.Code == "SESSION_INVALID")
        {
            session = await GetSessionAsync(session, cancellationToken).ConfigureAwait(false);
            Relogged?.Invoke(this, EventArgs.Empty);
            return await _rpc.CallAsync(method, WithSession(session, parameters), extraTimeout, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Runs <paramref name="exchange"/> (an HTTP handler request carrying the session reference it is given); when the
    /// server answers 401 (the session is no longer valid) it logs in again once and runs it again.
    /// </summary>
    public async Task WithSessionAsync(Func<string, Task> exchange, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        var session = await GetSessionAsync(null, cancellationToken).ConfigureAwait(false);
        try
        {
            await exchange(session).ConfigureAwait(false);
        }
        catch (XenApiTransportException ex) when (ex.HttpStatus == 401)
        {
            session = await GetSessionAsync(session, cancellationToken).ConfigureAwait(false);
            Relogged?.Invoke(this, EventArgs.Empty);
            await exchange(session).ConfigureAwait(false);
        }
    }

    /// <summary>Logs out, if logged in. Failures are ignored: the server drops idle sessions itself.</summary>
    public async ValueTask DisposeAsync()
    {
        var session = Interlocked.Exchange(ref _sessionRef, null);
        if (session is not null)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _rpc.CallAsync("session.logout", [session], TimeSpan.Zero, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (XenApiRpcClient.IsCallFailure(ex) || ex is OperationCanceledException)
            {
                // Best effort.
            }
        }

        _loginGate.Dispose();
    }

    private static object?[] WithSession(string session, object?[] parameters)
    {
        var all = new object?[parameters.Length + 1];
        all[0] = session;
        parameters.CopyTo(all, 1);
        return all;
    }

    /// <summary>Returns a live session reference, logging in when there is none or when <paramref name="dead"/> is current.</summary>
    private async Task<string> GetSessionAsync(string? dead, CancellationToken cancellationToken)
    {
        var current = Volatile.Read(ref _sessionRef);
        if (current is not null && current != dead)
        {
            return current;
        }

        await _loginGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            current = Volatile.Read(ref _sessionRef);
            if (current is not null && current != dead)
            {
                return current;
            }

            var credentials = await _credentials(cancellationToken).ConfigureAwait(false);
            var result = await _rpc.CallAsync("session.login_with_password",
                [credentials.UserName, credentials.Password, ApiVersion, _originator], TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            current = XenValue.ToText(result);
            Volatile.Write(ref _sessionRef, current);
            Interlocked.Increment(ref _loginCount);
            return current;
        }
        finally
        {
            _loginGate.Release();
        }
    }
}
