using System.CommandLine;
using System.Globalization;
using Spectre.Console;

namespace Hypervisors.Hvctl.Commands;

/// <summary>devices, volume attach/detach, interface attach/detach and snapshot create/list/delete.</summary>
internal static class DeviceCommands
{
    public static IEnumerable<Command> Create(CommandContext context)
    {
        yield return Devices(context);
        yield return Volume(context);
        yield return Interface(context);
        yield return Snapshot(context);
    }

    private static Command Devices(CommandContext context)
    {
        var id = InstanceCommands.IdArgument();
        var command = new Command("devices", "Show an instance's disks, volumes and network interfaces.") { id };
        command.SetAction((result, cancellationToken) => context.RunAsync(result, async client =>
        {
            var devices = await client.GetDevicesAsync(context.Driver(result), result.GetValue(id), cancellationToken).ConfigureAwait(false);
            if (context.Json(result))
            {
                context.WriteJson(devices);
                return ExitCodes.Success;
            }

            var table = new Table().AddColumns("KIND", "DEVICE", "WHAT", "DETAIL");
            foreach (var disk in devices.Disks)
            {
                table.AddRow("disk", Markup.Escape(disk.Device), Markup.Escape(disk.ImageRef ?? "blank"), $"{disk.SizeGiB.ToString(CultureInfo.InvariantCulture)} GiB");
            }

            foreach (var volume in devices.Volumes)
            {
                table.AddRow("volume", Markup.Escape(volume.Device), Markup.Escape(volume.VolumeId), Markup.Escape(volume.Source) + (volume.ReadOnly ? " (read-only)" : string.Empty));
            }

            foreach (var nic in devices.NetworkInterfaces)
            {
                table.AddRow("interface", Markup.Escape(nic.Device ?? "-"), Markup.Escape(nic.MacAddress), Markup.Escape(nic.Network));
            }

            context.Output.Console.Write(table);
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Volume(CommandContext context)
    {
        var attachId = InstanceCommands.IdArgument();
        var volumeId = new Option<string>("--volume-id") { Description = "Your id for the volume, unique within the instance.", Required = true };
        var source = new Option<string>("--source") { Description = "Where the storage is, in the driver's terms (a host path inside the driver's allowed directories, a VDI, a datastore path).", Required = true };
        var readOnly = new Option<bool>("--read-only") { Description = "Attach read-only." };
        var attachNoWait = InstanceCommands.NoWaitOption();
        var attach = new Command("attach", "Attach a volume.") { attachId, volumeId, source, readOnly, attachNoWait };
        attach.SetAction((result, cancellationToken) => context.RunAsync(result, async client =>
        {
            var operation = await client.AttachVolumeAsync(context.Driver(result), result.GetValue(attachId),
                new VolumeSpec(result.GetValue(volumeId)!, result.GetValue(source)!, result.GetValue(readOnly)), cancellationToken: cancellationToken).ConfigureAwait(false);
            return await InstanceCommands.FollowAsync(context, result, client, operation, result.GetValue(attachNoWait)).ConfigureAwait(false);
        }));

        var detachId = InstanceCommands.IdArgument();
        var detachVolume = new Argument<string>("volume-id") { Description = "The volume's id." };
        var detachNoWait = InstanceCommands.NoWaitOption();
        var detach = new Command("detach", "Detach a volume.") { detachId, detachVolume, detachNoWait };
        detach.SetAction((result, cancellationToken) => context.RunAsync(result, async client =>
        {
            var operation = await client.DetachVolumeAsync(context.Driver(result), result.GetValue(detachId), result.GetValue(detachVolume)!, cancellationToken: cancellationToken).ConfigureAwait(false);
            return await InstanceCommands.FollowAsync(context, result, client, operation, result.GetValue(detachNoWait)).ConfigureAwait(false);
        }));

        return new Command("volume", "Attach or detach volumes.") { attach, detach };
    }

    private static Command Interface(CommandContext context)
    {
        var attachId = InstanceCommands.IdArgument();
        var network = new Option<string>("--network") { Description = "The network to plug into.", Required = true };
        var mac = new Option<string?>("--mac") { Description = "The MAC address (the driver picks one when omitted)." };
        var attachNoWait = InstanceCommands.NoWaitOption();
        var attach = new Command("attach", "Add a network interface.") { attachId, network, mac, attachNoWait };
        attach.SetAction((result, cancellationToken) => context.RunAsync(result, async client =>
        {
            var operation = await client.AttachInterfaceAsync(context.Driver(result), result.GetValue(attachId),
                new NetworkInterfaceSpec(result.GetValue(network)!, result.GetValue(mac)), cancellationToken: cancellationToken).ConfigureAwait(false);
            return await InstanceCommands.FollowAsync(context, result, client, operation, result.GetValue(attachNoWait)).ConfigureAwait(false);
        }));

        var detachId = InstanceCommands.IdArgument();
        var detachMac = new Argument<string>("mac") { Description = "The interface's MAC address." };
        var detachNoWait = InstanceCommands.NoWaitOption();
        var detach = new Command("detach", "Remove a network interface.") { detachId, detachMac, detachNoWait };
        detach.SetAction((result, cancellationToken) => context.RunAsync(result, async client =>
        {
            var operation = await client.DetachInterfaceAsync(context.Driver(result), result.GetValue(detachId), result.GetValue(detachMac)!, cancellationToken: cancellationToken).ConfigureAwait(false);
            return await InstanceCommands.FollowAsync(context, result, client, operation, result.GetValue(detachNoWait)).ConfigureAwait(false);
        }));

        return new Command("interface", "Add or remove network interfaces.") { attach, detach };
    }

    private static Command Snapshot(CommandContext context)
    {
        var createId = InstanceCommands.IdArgument();
        var name = new Option<string>("--name", "-n") { Description = "The snapshot's name.", Required = true };
        var createNoWait = InstanceCommands.NoWaitOption();
        var create = new Command("create", "Take a snapshot.") { createId, name, createNoWait };
        create.SetAction((result, cancellationToken) => context.RunAsync(result, async client =>
        {
            var operation = await client.CreateSnapshotAsync(context.Driver(result), result.GetValue(createId), result.GetValue(name)!, cancellationToken: cancellationToken).ConfigureAwait(false);
            return await InstanceCommands.FollowAsync(context, result, client, operation, result.GetValue(createNoWait)).ConfigureAwait(false);
        }));

        var listId = InstanceCommands.IdArgument();
        var list = new Command("list", "List an instance's snapshots.") { listId };
        list.SetAction((result, cancellationToken) => context.RunAsync(result, async client =>
        {
            var snapshots = await client.ListSnapshotsAsync(context.Driver(result), result.GetValue(listId), cancellationToken).ConfigureAwait(false);
            if (context.Json(result))
            {
                context.WriteJson(snapshots);
                return ExitCodes.Success;
            }

            var table = new Table().AddColumns("SNAPSHOT", "NAME", "TAKEN", "STATE");
            foreach (var snapshot in snapshots)
            {
                table.AddRow(Markup.Escape(snapshot.SnapshotId), Markup.Escape(snapshot.Name), snapshot.CreatedAt.ToString("u", CultureInfo.InvariantCulture), InstanceCommands.StateMarkup(snapshot.PowerStateAtSnapshot));
            }

            context.Output.Console.Write(table);
            return ExitCodes.Success;
        }));

        var deleteId = InstanceCommands.IdArgument();
        var snapshotId = new Argument<string>("snapshot-id") { Description = "The snapshot's id (from snapshot list)." };
        var deleteNoWait = InstanceCommands.NoWaitOption();
        var delete = new Command("delete", "Delete a snapshot.") { deleteId, snapshotId, deleteNoWait };
        delete.SetAction((result, cancellationToken) => context.RunAsync(result, async client =>
        {
            var operation = await client.DeleteSnapshotAsync(context.Driver(result), result.GetValue(deleteId), result.GetValue(snapshotId)!, cancellationToken: cancellationToken).ConfigureAwait(false);
            return await InstanceCommands.FollowAsync(context, result, client, operation, result.GetValue(deleteNoWait)).ConfigureAwait(false);
        }));

        return new Command("snapshot", "Take, list and delete snapshots.") { create, list, delete };
    }
}
