namespace Hypervisors.Agent.Configuration;

/// <summary>The agent's settings: the <c>Agent</c> section of appsettings.json, environment (<c>Agent__...</c>) or command line (<c>--Agent:...</c>).</summary>
public sealed class AgentOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Agent";

    /// <summary>The URL the agent listens on when none is configured.</summary>
    public const string DefaultListenUrl = "http://127.0.0.1:8470";

    /// <summary>An extra JSON settings file (a deployment's <c>/etc/hypervisors-agent/agent.json</c>).</summary>
    public string? ConfigFile { get; set; }

    /// <summary>URLs to listen on (<c>http://127.0.0.1:8470</c>, <c>https://0.0.0.0:8471</c>); anything beyond loopback needs https and a token.</summary>
    public string[] Listen { get; set; } = [];

    /// <summary>
    /// Where the journal and the lock live; by default a state directory: <c>$STATE_DIRECTORY</c> (systemd's
    /// <c>StateDirectory=</c>), else <c>/var/lib/hypervisors-agent</c> as root, else
    /// <c>$XDG_STATE_HOME/hypervisors-agent</c> (<c>~/.local/state/hypervisors-agent</c>). Never the build output.
    /// </summary>
    public string? DataDirectory { get; set; }

    /// <summary>A file holding the bearer token; without it the API is open (loopback only).</summary>
    public string? TokenFile { get; set; }

    /// <summary>The TLS certificate for https URLs.</summary>
    public TlsOptions Tls { get; set; } = new();

    /// <summary>The largest request body accepted, in bytes.</summary>
    public long MaxRequestBodyBytes { get; set; } = 64 * 1024;

    /// <summary>How often the power state sync compares the hypervisors' states with the last known ones.</summary>
    public TimeSpan PowerSyncInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How many lifecycle events the journal keeps for resuming event streams.</summary>
    public int EventRetention { get; set; } = 100_000;

    /// <summary>The longest <c>?wait=</c> honoured.</summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The graceful stop timeout when a stop request gives none.</summary>
    public TimeSpan DefaultStopTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long a serialized instance list may be reused when no event or operation changed the driver since;
    /// zero lists from the driver on every request.
    /// </summary>
    public TimeSpan ListCacheTtl { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How many operations run at once against one driver; the rest queue in the journal's order.</summary>
    public int MaxConcurrentOperationsPerDriver { get; set; } = 32;

    /// <summary>SQLite <c>synchronous</c>: Normal survives a process crash (the journal is in WAL mode); Full also survives power loss.</summary>
    public JournalDurability JournalDurability { get; set; } = JournalDurability.Normal;

    /// <summary>
    /// How long a stop (SIGTERM) lets running operations finish after the agent stopped taking new ones; what is
    /// still running then is cancelled, journaled as <c>Interrupted</c> and reconciled at the next start.
    /// </summary>
    public TimeSpan DrainTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long finished operations stay in the journal (and <c>GET /v1/operations</c>) before they are pruned.</summary>
    public TimeSpan OperationRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// How many events an event stream may have waiting for a slow reader; beyond that the stream ends with an
    /// <c>overflow</c> event, and the reader resumes from its last event id (replayed from the journal).
    /// </summary>
    public int EventStreamBuffer { get; set; } = 1024;

    /// <summary>An OTLP endpoint for traces; traces are still produced for in-process listeners without it.</summary>
    public Uri? OtlpEndpoint { get; set; }

    /// <summary>The data directory to use: <see cref="DataDirectory"/>, else the state directory described there.</summary>
    public string ResolveDataDirectory() =>
        ResolveDataDirectory(Environment.GetEnvironmentVariable, Environment.IsPrivilegedProcess, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    /// <summary>The data directory for this environment (<paramref name="environment"/> reads a variable).</summary>
    public string ResolveDataDirectory(Func<string, string?> environment, bool isRoot, string home)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (!string.IsNullOrEmpty(DataDirectory))
        {
            return Path.GetFullPath(DataDirectory);
        }

        if (environment("STATE_DIRECTORY") is { Length: > 0 } systemd)
        {
            // systemd passes one path per StateDirectory= entry, colon-separated; the agent asks for one.
            return Path.GetFullPath(systemd.Split(':')[0]);
        }

        if (isRoot)
        {
            return "/var/lib/hypervisors-agent";
        }

        var stateHome = environment("XDG_STATE_HOME") is { Length: > 0 } xdg && Path.IsPathFullyQualified(xdg)
            ? xdg
            : Path.Combine(home, ".local", "state");
        return Path.Combine(stateHome, "hypervisors-agent");
    }

    /// <summary>Throws <see cref="AgentStartupException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        static void Require(bool ok, string key, string problem)
        {
            if (!ok)
            {
                throw AgentStartupException.Setting($"{SectionName}:{key}", problem);
            }
        }

        Require(MaxRequestBodyBytes is >= 1024 and <= 64L * 1024 * 1024, nameof(MaxRequestBodyBytes), $"must be between 1024 and 67108864, was {MaxRequestBodyBytes}.");
        Require(PowerSyncInterval > TimeSpan.Zero, nameof(PowerSyncInterval), "must be positive.");
        Require(EventRetention >= 1, nameof(EventRetention), "must be at least 1.");
        Require(MaxWait >= TimeSpan.Zero && MaxWait <= TimeSpan.FromHours(1), nameof(MaxWait), "must be between 0 and 1 hour.");
        Require(DefaultStopTimeout >= TimeSpan.Zero && DefaultStopTimeout <= TimeSpan.FromHours(1), nameof(DefaultStopTimeout), "must be between 0 and 1 hour.");
        Require(ListCacheTtl >= TimeSpan.Zero, nameof(ListCacheTtl), "must not be negative.");
        Require(MaxConcurrentOperationsPerDriver >= 1, nameof(MaxConcurrentOperationsPerDriver), "must be at least 1.");
        Require(DrainTime >= TimeSpan.Zero && DrainTime <= TimeSpan.FromHours(1), nameof(DrainTime), "must be between 0 and 1 hour.");
        Require(OperationRetention >= TimeSpan.FromMinutes(1), nameof(OperationRetention), "must be at least one minute.");
        Require(EventStreamBuffer >= 1, nameof(EventStreamBuffer), "must be at least 1.");
        Require(OtlpEndpoint is null || OtlpEndpoint.IsAbsoluteUri, nameof(OtlpEndpoint), "must be an absolute URL.");
    }

    /// <summary>The effective listen URLs.</summary>
    public IReadOnlyList<string> EffectiveListen => Listen.Length == 0 ? [DefaultListenUrl] : Listen;
}

/// <summary>PEM certificate and key for https listeners.</summary>
public sealed class TlsOptions
{
    /// <summary>The certificate chain (PEM).</summary>
    public string? CertificateFile { get; set; }

    /// <summary>The private key (PEM); may be omitted when the certificate file holds it.</summary>
    public string? KeyFile { get; set; }
}

/// <summary>How hard the journal pushes each write to disk.</summary>
public enum JournalDurability
{
    /// <summary>WAL with synchronous=NORMAL: nothing is lost when the process dies.</summary>
    Normal,

    /// <summary>WAL with synchronous=FULL: nothing is lost when the machine loses power either.</summary>
    Full,
}
