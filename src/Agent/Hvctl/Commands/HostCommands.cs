using System.CommandLine;
using System.Globalization;
using Spectre.Console;

namespace Hypervisors.Hvctl.Commands;

/// <summary>host and events.</summary>
internal static class HostCommands
{
    public static IEnumerable<Command> Create(CommandContext context)
    {
        yield return Host(context);
        yield return Events(context);
    }

    private static Command Host(CommandContext context)
    {
        var command = new Command("host", "Show the host's resources and the driver's capabilities.");
        command.SetAction((result, _) => context.RunAsync(result, async client =>
        {
            var host = await client.GetHostAsync(context.Driver(result)).ConfigureAwait(false);
            if (context.Json(result))
            {
                context.WriteJson(host);
                return ExitCodes.Success;
            }

            var info = host.Host;
            var table = new Table().AddColumns("RESOURCE", "TOTAL", "USED", "FREE");
            table.AddRow("vCPUs", Number(info.VCpusTotal), Number(info.VCpusUsed), Number(info.VCpusFree));
            table.AddRow("Memory (MiB)", Number(info.MemoryMiBTotal), Number(info.MemoryMiBUsed), Number(info.MemoryMiBFree));
            table.AddRow("Local disk (GiB)", Number(info.LocalDiskGiBTotal), Number(info.LocalDiskGiBUsed), Number(Math.Max(0, info.LocalDiskGiBTotal - info.LocalDiskGiBUsed)));
            context.Output.Console.MarkupLine($"[bold]{Markup.Escape(info.HostName)}[/] {Markup.Escape(info.HypervisorType)} {Markup.Escape(info.HypervisorVersion)}, {Markup.Escape(info.Cpu.Model)}");
            context.Output.Console.Write(table);
            var capabilities = host.Capabilities;
            var supported = new (string Name, bool Supported)[]
            {
                ("soft reboot", capabilities.SupportsSoftReboot), ("pause", capabilities.SupportsPause), ("suspend", capabilities.SupportsSuspend),
                ("console", capabilities.SupportsConsoleOutput), ("volumes", capabilities.SupportsVolumeAttach), ("interfaces", capabilities.SupportsInterfaceAttach),
                ("snapshots", capabilities.SupportsSnapshots), ("events", capabilities.SupportsEvents),
            };
            context.Output.Console.MarkupLine("Supports: " + string.Join(", ", supported.Select(s => s.Supported ? s.Name : $"[strikethrough grey]{s.Name}[/]")));
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Events(CommandContext context)
    {
        var since = new Option<long?>("--since") { Description = "Replay the retained events after this event id first (0: all)." };
        var count = new Option<int?>("--count") { Description = "Stop after this many events." };
        var command = new Command("events", "Follow lifecycle events (server-sent events; resumable with --since).") { since, count };
        command.SetAction((result, cancellationToken) => context.RunAsync(result, async client =>
        {
            var limit = result.GetValue(count);
            var seen = 0;
            try
            {
                await foreach (var agentEvent in client.WatchEventsAsync(result.GetValue(since), cancellationToken).ConfigureAwait(false))
                {
                    if (context.Json(result))
                    {
                        context.WriteJson(agentEvent);
                    }
                    else
                    {
                        context.Output.Console.MarkupLine(
                            $"[grey]{agentEvent.Id.ToString(CultureInfo.InvariantCulture)}[/] {agentEvent.Timestamp:HH:mm:ss.fff} {Markup.Escape(agentEvent.Driver)} {agentEvent.InstanceId} [bold]{agentEvent.Kind}[/] {InstanceCommands.StateMarkup(agentEvent.PowerState)} [grey]({Markup.Escape(agentEvent.Source)})[/]");
                    }

                    if (++seen == limit)
                    {
                        break;
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Ctrl+C ends the stream.
            }

            return ExitCodes.Success;
        }));
        return command;
    }

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
