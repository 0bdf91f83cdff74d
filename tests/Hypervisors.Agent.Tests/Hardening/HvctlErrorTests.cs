using System.Net;
using System.Net.Sockets;
using System.Text;
using Hypervisors.Hvctl;
using Spectre.Console;

namespace Hypervisors.Agent.Tests.Hardening;

/// <summary>Issue 12 item 12: hvctl's three ways of not reaching an agent each give one line and their own exit code.</summary>
public sealed class HvctlErrorTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(int ExitCode, string Error)> RunAsync(params string[] args)
    {
        using var console = new StringWriter();
        using var output = new StringWriter();
        using var error = new StringWriter();
        var ansi = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, Interactive = InteractionSupport.No, Out = new AnsiConsoleOutput(console) });
        var code = await HvctlApp.RunAsync(args, new HvctlOutput(ansi, output, error), cancellationToken: Ct);
        return (code, error.ToString());
    }

    private static void AssertOneLine(string error, string mentioned)
    {
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("hvctl: ", line, StringComparison.Ordinal);
        Assert.Contains(mentioned, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_token_file_is_one_line_and_exit_66()
    {
        var (code, error) = await RunAsync("--url", "http://127.0.0.1:1", "--token-file", "/nonexistent/hvctl-token", "list");

        Assert.Equal(ExitCodes.NoInput, code);
        AssertOneLine(error, "/nonexistent/hvctl-token");
    }

    [Fact]
    public async Task An_agent_that_is_down_is_one_line_and_exit_69()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var (code, error) = await RunAsync("--url", $"http://127.0.0.1:{port}", "list");

        Assert.Equal(ExitCodes.AgentDown, code);
        AssertOneLine(error, "cannot reach the agent");
    }

    [Theory]
    [InlineData("404 Not Found", "text/html", "<html>nothing here</html>")]
    [InlineData("200 OK", "text/html", "<html>welcome</html>")]
    [InlineData("200 OK", "application/json", "{\"hello\":")]
    public async Task A_server_that_is_not_an_agent_is_one_line_and_exit_76(string status, string contentType, string body)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serving = ServeOnceAsync(listener, $"HTTP/1.1 {status}\r\nContent-Type: {contentType}\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}");

        var (code, error) = await RunAsync("--url", $"http://127.0.0.1:{port}", "list");
        await serving;

        Assert.Equal(ExitCodes.NotAnAgent, code);
        AssertOneLine(error, "is not a Hypervisors agent");
    }

    private static async Task ServeOnceAsync(TcpListener listener, string response)
    {
        using var client = await listener.AcceptTcpClientAsync(Ct);
        await using var stream = client.GetStream();
        var buffer = new byte[8192];
        var read = 0;
        while (!Encoding.ASCII.GetString(buffer, 0, read).Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            read += await stream.ReadAsync(buffer.AsMemory(read), Ct);
        }

        await stream.WriteAsync(Encoding.UTF8.GetBytes(response), Ct);
    }
}
