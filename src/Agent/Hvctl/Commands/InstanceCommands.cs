using System.CommandLine;
using System.Globalization;
using Hypervisors.Agent.Client;
using Spectre.Console;

namespace Hypervisors.Hvctl.Commands;

/// <summary>list, show, create, the power actions, delete and console.</summary>
internal static class InstanceCommands
{
    public static IEnumerable<Command> Create(CommandContext context)
    {
        yield return List(context);
        yield return Show(context);
        yield return CreateInstance(context);
        foreach (var action in new[] { "start", "stop", "power-off", "reboot", "pause", "unpause", "suspend", "resume" })
        {
            yield return Action(context, action);
        }

        yield return Delete(context);
        yield return Console(context);
    }

    internal static Argument<Guid> IdArgument() => new("id") { Description = "The instance id." };

    internal static Option<bool> NoWaitOption() => new("--no-wait") { Description = "Return once the agent accepted the operation." };

    private static Command List(CommandContext context)
    {
        var command = new Command("list", "List the driver's instances.");
        command.SetAction((result, _) => context.RunAsync(result, async client =>
        {
            var instances = await client.ListInstancesAsync(context.Driver(result)).ConfigureAwait(false);
            if (context.Json(result))
            {
                context.WriteJson(instances);
                return ExitCodes.Success;
            }

            var table = new Table().AddColumn(new TableColumn("ID").NoWrap()).AddColumns("NAME", "STATE", "VCPUS", "MEMORY (MiB)");
            foreach (var instance in instances.OrderBy(i => i.Name, StringComparer.Ordinal))
            {
                table.AddRow(instance.Id.ToString(), Markup.Escape(instance.Name), StateMarkup(instance.PowerState),
                    instance.VCpus.ToString(CultureInfo.InvariantCulture), instance.MemoryMiB.ToString(CultureInfo.InvariantCulture));
            }

            context.Output.Console.Write(table);
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Show(CommandContext context)
    {
        var id = IdArgument();
        var command = new Command("show", "Show one instance and its devices.") { id };
        command.SetAction((result, _) => context.RunAsync(result, async client =>
        {
            var driver = context.Driver(result);
            var instance = await client.GetInstanceAsync(driver, result.GetValue(id)).ConfigureAwait(false);
            if (context.Json(result))
            {
                context.WriteJson(instance);
                return ExitCodes.Success;
            }

            var grid = new Grid().AddColumn().AddColumn();
            grid.AddRow("ID", instance.Id.ToString());
            grid.AddRow("Name", Markup.Escape(instance.Name));
            grid.AddRow("State", StateMarkup(instance.PowerState));
            grid.AddRow("vCPUs", instance.VCpus.ToString(CultureInfo.InvariantCulture));
            grid.AddRow("Memory", $"{instance.MemoryMiB.ToString(CultureInfo.InvariantCulture)} MiB");
            grid.AddRow("CPU time", instance.CpuTime.ToString("c", CultureInfo.InvariantCulture));
            grid.AddRow("Native id", Markup.Escape(instance.NativeId ?? "-"));
            foreach (var (key, value) in instance.Metadata)
            {
                grid.AddRow(Markup.Escape($"meta {key}"), Markup.Escape(value));
            }

            context.Output.Console.Write(grid);
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command CreateInstance(CommandContext context)
    {
        var id = new Argument<Guid?>("id") { Description = "The instance id (a new one when omitted).", Arity = ArgumentArity.ZeroOrOne };
        var name = new Option<string>("--name", "-n") { Description = "The instance name.", Required = true };
        var vcpus = new Option<int>("--vcpus") { Description = "Virtual CPUs.", DefaultValueFactory = _ => 1 };
        var memory = new Option<long>("--memory") { Description = "Memory in MiB.", DefaultValueFactory = _ => 512 };
        var disks = new Option<long[]>("--disk-gib") { Description = "A blank disk of this size in GiB (repeatable)." };
        var networks = new Option<string[]>("--network") { Description = "A network interface on this network (repeatable)." };
        var start = new Option<bool>("--start") { Description = "Power on once created." };
        var noWait = NoWaitOption();
        var boot = new BootOptions();
        var command = new Command("create", "Create an instance (idempotent on its id).") { id, name, vcpus, memory, disks, networks, start, noWait };
        boot.AddTo(command);
        command.SetAction((result, _) => context.RunAsync(result, async client =>
        {
            var instanceId = result.GetValue(id) ?? Guid.NewGuid();
            var request = new CreateInstanceRequest
            {
                Name = result.GetValue(name)!,
                VCpus = result.GetValue(vcpus),
                MemoryMiB = result.GetValue(memory),
                Disks = [.. boot.ImageDisks(result), .. (result.GetValue(disks) ?? []).Select(size => new DiskSpec(size))],
                KernelBoot = boot.KernelBoot(result),
                NetworkInterfaces = (result.GetValue(networks) ?? []).Select(network => new NetworkInterfaceSpec(network)).ToList(),
                StartAfterCreate = result.GetValue(start),
            };
            var operation = await client.CreateInstanceAsync(context.Driver(result), instanceId, request).ConfigureAwait(false);
            return await FollowAsync(context, result, client, operation, result.GetValue(noWait)).ConfigureAwait(false);
        }));
        return command;
    }

    private static Command Action(CommandContext context, string action)
    {
        var id = IdArgument();
        var noWait = NoWaitOption();
        var command = new Command(action, $"Run '{action}' on an instance.") { id, noWait };
        Option<TimeSpan?>? timeout = null;
        Option<bool>? hard = null;
        if (action == "stop")
        {
            timeout = new Option<TimeSpan?>("--timeout") { Description = "Graceful shutdown timeout before a hard power off (hh:mm:ss; 0 powers off at once)." };
            command.Options.Add(timeout);
        }
        else if (action == "reboot")
        {
            hard = new Option<bool>("--hard") { Description = "Reset instead of asking the guest." };
            command.Options.Add(hard);
        }

        command.SetAction((result, _) => context.RunAsync(result, async client =>
        {
            var operation = await client.RunActionAsync(context.Driver(result), result.GetValue(id), action,
                timeout: timeout is null ? null : result.GetValue(timeout),
                rebootKind: hard is null ? null : result.GetValue(hard) ? RebootKind.Hard : RebootKind.Soft).ConfigureAwait(false);
            return await FollowAsync(context, result, client, operation, result.GetValue(noWait)).ConfigureAwait(false);
        }));
        return command;
    }

    private static Command Delete(CommandContext context)
    {
        var id = IdArgument();
        var noWait = NoWaitOption();
        var command = new Command("delete", "Power off and remove an instance.") { id, noWait };
        command.SetAction((result, _) => context.RunAsync(result, async client =>
        {
            var operation = await client.DeleteInstanceAsync(context.Driver(result), result.GetValue(id)).ConfigureAwait(false);
            return await FollowAsync(context, result, client, operation, result.GetValue(noWait)).ConfigureAwait(false);
        }));
        return command;
    }

    private static Command Console(CommandContext context)
    {
        var id = IdArgument();
        var command = new Command("console", "Print the tail of the serial console.") { id };
        command.SetAction((result, _) => context.RunAsync(result, async client =>
        {
            var console = await client.GetConsoleOutputAsync(context.Driver(result), result.GetValue(id)).ConfigureAwait(false);
            if (context.Json(result))
            {
                context.WriteJson(console);
            }
            else
            {
                await context.Output.Out.WriteAsync(console.Text).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>Waits for the operation (with a live status line for people) and reports how it ended.</summary>
    internal static async Task<int> FollowAsync(CommandContext context, ParseResult result, AgentClient client, OperationResource operation, bool noWait)
    {
        if (!noWait && !operation.IsFinal)
        {
            if (context.Json(result))
            {
                operation = await client.WaitForOperationAsync(operation).ConfigureAwait(false);
            }
            else
            {
                var started = DateTimeOffset.UtcNow;
                operation = await context.Output.Console.Status().Spinner(Spinner.Known.Dots).StartAsync(Describe(operation), async status =>
                {
                    var current = operation;
                    while (!current.IsFinal)
                    {
                        current = await client.GetOperationAsync(current.Id, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                        status.Status($"{Describe(current)} ({(DateTimeOffset.UtcNow - started).TotalSeconds.ToString("F0", CultureInfo.InvariantCulture)}s)");
                    }

                    return current;
                }).ConfigureAwait(false);
            }
        }

        if (context.Json(result))
        {
            context.WriteJson(operation);
        }
        else if (operation.State != OperationState.Failed)
        {
            context.Output.Console.MarkupLine($"{Markup.Escape(Describe(operation))} [grey](operation {operation.Id})[/]");
        }

        return operation.State == OperationState.Failed ? context.ReportProblem(result, operation.Error ?? new AgentProblem { Title = "Operation failed" }) : ExitCodes.Success;
    }

    private static string Describe(OperationResource operation) => $"{operation.Kind} {operation.InstanceId}: {operation.State.ToString().ToLowerInvariant()}";

    internal static string StateMarkup(PowerState state) => state switch
    {
        PowerState.Running => "[green]running[/]",
        PowerState.Paused => "[yellow]paused[/]",
        PowerState.Suspended => "[blue]suspended[/]",
        PowerState.Crashed => "[red]crashed[/]",
        PowerState.Shutdown => "[grey]shutdown[/]",
        _ => "[grey]no state[/]",
    };
}
