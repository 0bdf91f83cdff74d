using System.CommandLine;
using System.Globalization;
using Hypervisors.Agent.Client;
using Spectre.Console;

namespace Hypervisors.Hvctl.Commands;

/// <summary><c>create</c>'s image and kernel options: <c>--image REF</c>, <c>--kernel</c>, <c>--initrd</c>, <c>--cmdline</c>.</summary>
internal sealed class BootOptions
{
    private readonly Option<string?> _image = new("--image")
    {
        Description = "Boot disk from an image: glance:<id>, https://...#sha256=<hex>, or a file in the agent's allowed image directories.",
    };

    private readonly Option<long> _imageSize = new("--image-disk-gib") { Description = "The image disk's size in GiB (it grows to at least the image's size).", DefaultValueFactory = _ => 1 };

    private readonly Option<string?> _kernel = new("--kernel") { Description = "Boot this kernel directly (a path on the agent's host)." };

    private readonly Option<string?> _initrd = new("--initrd") { Description = "The initrd for --kernel." };

    private readonly Option<string?> _cmdline = new("--cmdline") { Description = "The kernel command line for --kernel." };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _image, _imageSize, _kernel, _initrd, _cmdline })
        {
            command.Options.Add(option);
        }

        command.Validators.Add(result =>
        {
            if (result.GetValue(_kernel) is null && (result.GetValue(_initrd) is not null || result.GetValue(_cmdline) is not null))
            {
                result.AddError("--initrd and --cmdline need --kernel.");
            }
        });
    }

    /// <summary>The image disk, first in boot order, when --image is given.</summary>
    public IEnumerable<DiskSpec> ImageDisks(ParseResult result) =>
        result.GetValue(_image) is { } image ? [new DiskSpec(result.GetValue(_imageSize), image)] : [];

    public KernelBootSpec? KernelBoot(ParseResult result) =>
        result.GetValue(_kernel) is { } kernel ? new KernelBootSpec(kernel, result.GetValue(_initrd), result.GetValue(_cmdline) ?? string.Empty) : null;
}

/// <summary>import (OVF/OVA packages) and images (the host's image cache).</summary>
internal static class ImageCommands
{
    public static IEnumerable<Command> Create(CommandContext context)
    {
        yield return Import(context);
        yield return Images(context);
    }

    private static Command Import(CommandContext context)
    {
        var package = new Argument<string>("package") { Description = "The OVA: glance:<id>, https://...#sha256=<hex>, or a file in the agent's allowed image directories." };
        var option = new Option<string?>("--deployment-option") { Description = "The OVF deployment option (the package's default when omitted)." };
        var networks = new Option<string[]>("--network") { Description = "OVFNETWORK=HOSTNETWORK (repeatable)." };
        var properties = new Option<string[]>("--property") { Description = "KEY=VALUE for a user-configurable property (repeatable)." };
        var prefix = new Option<string?>("--name-prefix") { Description = "Prefixed to each VirtualSystem's name." };
        var start = new Option<bool>("--start") { Description = "Power each instance on once created." };
        var noWait = new Option<bool>("--no-wait") { Description = "Return once the agent accepted the creates." };
        var command = new Command("import", "Import an OVF package (OVA): one instance per VirtualSystem.") { package, option, networks, properties, prefix, start, noWait };
        command.SetAction((result, _) => context.RunAsync(result, async client =>
        {
            var imported = await client.ImportAsync(context.Driver(result), new ImportRequest
            {
                Package = result.GetValue(package)!,
                DeploymentOption = result.GetValue(option),
                NetworkMapping = Pairs(result.GetValue(networks), "--network"),
                Properties = Pairs(result.GetValue(properties), "--property"),
                NamePrefix = result.GetValue(prefix),
                StartAfterCreate = result.GetValue(start),
            }).ConfigureAwait(false);
            var failed = false;
            var rows = new List<(ImportedInstance Instance, OperationResource? Operation)>();
            foreach (var instance in imported)
            {
                var operation = result.GetValue(noWait) ? null : await client.WaitForOperationAsync(await client.GetOperationAsync(instance.OperationId).ConfigureAwait(false)).ConfigureAwait(false);
                failed |= operation is { State: not OperationState.Succeeded };
                rows.Add((instance, operation));
            }

            if (context.Json(result))
            {
                context.WriteJson(rows.Select(r => new { r.Instance.InstanceId, r.Instance.Name, r.Instance.OperationId, State = r.Operation?.State, Error = r.Operation?.Error }));
            }
            else
            {
                var table = new Table().AddColumn(new TableColumn("ID").NoWrap()).AddColumns("NAME", "OPERATION", "STATE");
                foreach (var (instance, operation) in rows)
                {
                    table.AddRow(instance.InstanceId.ToString(), Markup.Escape(instance.Name), instance.OperationId, Markup.Escape(operation?.State.ToString() ?? "accepted"));
                }

                context.Output.Console.Write(table);
            }

            return failed ? ExitCodes.Failed : ExitCodes.Success;
        }));
        return command;
    }

    private static Command Images(CommandContext context)
    {
        var command = new Command("images", "List the agent host's cached images.");
        command.SetAction((result, _) => context.RunAsync(result, async client =>
        {
            var images = await client.ListCachedImagesAsync().ConfigureAwait(false);
            if (context.Json(result))
            {
                context.WriteJson(images);
                return ExitCodes.Success;
            }

            var table = new Table().AddColumns("NAME", "FORMAT", "SIZE (MiB)", "INSTANCES", "SOURCE");
            foreach (var image in images)
            {
                table.AddRow(Markup.Escape(image.Name[..Math.Min(image.Name.Length, 24)] + "…"), Markup.Escape(image.Format ?? "-"),
                    (image.SizeBytes >> 20).ToString(CultureInfo.InvariantCulture), image.Instances.Count.ToString(CultureInfo.InvariantCulture), Markup.Escape(image.Source ?? "-"));
            }

            context.Output.Console.Write(table);
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Dictionary<string, string> Pairs(string[]? values, string option)
    {
        var pairs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var value in values ?? [])
        {
            var equals = value.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new AgentApiException(new AgentProblem
                {
                    Type = "about:blank",
                    Title = "Invalid argument",
                    Status = 400,
                    Detail = $"{option} takes NAME=VALUE, not '{value}'.",
                    Kind = HypervisorErrorKind.InvalidSpec,
                    Retryable = false,
                }, 400);
            }

            pairs[value[..equals]] = value[(equals + 1)..];
        }

        return pairs;
    }
}
