using System.CommandLine;
using Hypervisors.Hvctl.Commands;

namespace Hypervisors.Hvctl;

/// <summary>hvctl's command tree.</summary>
internal static class HvctlApp
{
    public static async Task<int> RunAsync(string[] args, HvctlOutput output, HttpMessageHandler? handler = null, CancellationToken cancellationToken = default)
    {
        var globals = new GlobalOptions();
        var root = new RootCommand("hvctl: drives a Hypervisors compute agent over its /v1 API.");
        globals.AddTo(root);
        var context = new CommandContext(globals, output, handler);
        foreach (var command in InstanceCommands.Create(context).Concat(HostCommands.Create(context)).Concat(DeviceCommands.Create(context)).Concat(OperationCommands.Create(context)).Concat(ImageCommands.Create(context)))
        {
            root.Subcommands.Add(command);
        }

        var parsed = root.Parse(args);
        return await parsed.InvokeAsync(new InvocationConfiguration { Output = output.Out, Error = output.Error }, cancellationToken).ConfigureAwait(false);
    }
}
