using System.CommandLine;
using System.Text.Json;
using Hypervisors.Agent.Client;

namespace Hypervisors.Hvctl.Commands;

/// <summary>The options every command takes.</summary>
internal sealed class GlobalOptions
{
    public Option<Uri> Url { get; } = new("--url")
    {
        Description = "The agent's URL (default: $HVCTL_URL or http://127.0.0.1:8470).",
        DefaultValueFactory = _ => new Uri(Environment.GetEnvironmentVariable("HVCTL_URL") is { Length: > 0 } url ? url : "http://127.0.0.1:8470"),
        CustomParser = argument =>
        {
            var text = argument.Tokens.Count == 1 ? argument.Tokens[0].Value : string.Empty;
            if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
            {
                return uri;
            }

            argument.AddError($"'{text}' is not an http:// or https:// URL.");
            return null;
        },
        Recursive = true,
    };

    public Option<FileInfo?> TokenFile { get; } = new("--token-file")
    {
        Description = "A file holding the bearer token (default: $HVCTL_TOKEN_FILE).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("HVCTL_TOKEN_FILE") is { Length: > 0 } path ? new FileInfo(path) : null,
        Recursive = true,
    };

    public Option<string> Driver { get; } = new("--driver", "-d")
    {
        Description = "The driver's name in the agent.",
        DefaultValueFactory = _ => "local",
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Print JSON for scripts instead of tables.",
        Recursive = true,
    };

    public void AddTo(RootCommand root)
    {
        root.Options.Add(Url);
        root.Options.Add(TokenFile);
        root.Options.Add(Driver);
        root.Options.Add(Json);
    }
}

/// <summary>What a command needs: its options' values, a client, and the output.</summary>
internal sealed class CommandContext(GlobalOptions globals, HvctlOutput output, HttpMessageHandler? handler)
{
    public GlobalOptions Globals { get; } = globals;

    public HvctlOutput Output { get; } = output;

    public string Driver(ParseResult result) => result.GetValue(Globals.Driver)!;

    public bool Json(ParseResult result) => result.GetValue(Globals.Json);

    /// <summary>Runs <paramref name="body"/> with a client; turns the agent's problems into messages and exit codes.</summary>
    public async Task<int> RunAsync(ParseResult result, Func<AgentClient, Task<int>> body)
    {
        string? token = null;
        if (result.GetValue(Globals.TokenFile) is { } file)
        {
            try
            {
                token = (await File.ReadAllTextAsync(file.FullName).ConfigureAwait(false)).Trim();
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                await Output.Error.WriteLineAsync($"hvctl: cannot read the token file {file.FullName}: {exception.Message}").ConfigureAwait(false);
                return ExitCodes.NoInput;
            }
        }

        using var http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        http.BaseAddress = result.GetValue(Globals.Url);
        http.Timeout = TimeSpan.FromMinutes(10);
        try
        {
            return await body(new AgentClient(http, token)).ConfigureAwait(false);
        }
        catch (AgentApiException exception)
        {
            return ReportProblem(result, exception.Problem);
        }
        catch (AgentProtocolException exception)
        {
            await Output.Error.WriteLineAsync($"hvctl: {http.BaseAddress} is not a Hypervisors agent: {exception.Message}").ConfigureAwait(false);
            return ExitCodes.NotAnAgent;
        }
        catch (HttpRequestException exception)
        {
            await Output.Error.WriteLineAsync($"hvctl: cannot reach the agent at {http.BaseAddress}: {exception.Message}").ConfigureAwait(false);
            return ExitCodes.AgentDown;
        }
    }

    /// <summary>Prints a problem (as JSON with --json) and returns the matching exit code.</summary>
    public int ReportProblem(ParseResult result, AgentProblem problem)
    {
        if (Json(result))
        {
            Output.Out.WriteLine(JsonSerializer.Serialize(problem, AgentJson.Options));
        }
        else
        {
            Output.Error.WriteLine($"hvctl: {problem.Title}: {problem.Detail} (kind {problem.Kind}, {(problem.Retryable ? "retryable" : "final")})");
        }

        return problem.Retryable ? ExitCodes.Retryable : ExitCodes.Failed;
    }

    public void WriteJson<T>(T value) => Output.Out.WriteLine(JsonSerializer.Serialize(value, AgentJson.Options));
}
