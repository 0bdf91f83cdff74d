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

    /// <summary>Where the journal lives; default <c>data/</c> under the content root.</summary>
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

    /// <summary>An OTLP endpoint for traces; traces are still produced for in-process listeners without it.</summary>
    public Uri? OtlpEndpoint { get; set; }

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
