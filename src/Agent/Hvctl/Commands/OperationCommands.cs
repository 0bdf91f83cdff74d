using System.CommandLine;
using System.Globalization;
using Hypervisors.Agent.Client;
using Spectre.Console;

namespace Hypervisors.Hvctl.Commands;

/// <summary>operations: the agent's journaled operations.</summary>
internal static class OperationCommands
{
    public static IEnumerable<Command> Create(CommandContext context)
    {
        yield return List(context);
    }

    private static Command List(CommandContext context)
    {
        var instance = new Option<Guid?>("--instance") { Description = "Only this instance's operations." };
        var state = new Option<OperationState?>("--state") { Description = "Only operations in this state (Pending, Succeeded, Failed, Interrupted)." };
        var limit = new Option<int>("--limit") { Description = "At most this many (newest pages are fetched until then).", DefaultValueFactory = _ => 100 };
        var allDrivers = new Option<bool>("--all-drivers") { Description = "Operations of every driver, not only --driver's." };
        var command = new Command("operations", "List the agent's operations, oldest first (finished ones are kept for Agent:OperationRetention).") { instance, state, limit, allDrivers };
        command.SetAction((result, cancellationToken) => context.RunAsync(result, async client =>
        {
            var wanted = Math.Max(1, result.GetValue(limit));
            var driver = result.GetValue(allDrivers) ? null : context.Driver(result);
            var operations = new List<OperationResource>();
            string? after = null;
            do
            {
                var page = await client.ListOperationsAsync(driver, result.GetValue(instance), result.GetValue(state), after, Math.Min(500, wanted - operations.Count), cancellationToken).ConfigureAwait(false);
                operations.AddRange(page.Items);
                after = page.Next;
            }
            while (after is not null && operations.Count < wanted);

            if (context.Json(result))
            {
                context.WriteJson(operations);
                return ExitCodes.Success;
            }

            var table = new Table().AddColumn(new TableColumn("OPERATION").NoWrap()).AddColumns("KIND", "INSTANCE", "STATE", "UPDATED", "ERROR");
            foreach (var operation in operations)
            {
                table.AddRow(operation.Id, Markup.Escape(operation.Kind), operation.InstanceId.ToString(), operation.State.ToString(),
                    operation.UpdatedAt.ToString("u", CultureInfo.InvariantCulture), Markup.Escape(operation.Error?.Detail ?? string.Empty));
            }

            context.Output.Console.Write(table);
            return ExitCodes.Success;
        }));
        return command;
    }
}
