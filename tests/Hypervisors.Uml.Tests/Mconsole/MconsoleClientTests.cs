using System.Net.Sockets;
using Hypervisors.Uml.Mconsole;

namespace Hypervisors.Uml.Tests;

/// <summary>The mconsole client against a stand-in kernel socket that answers as arch/um/drivers/mconsole_user.c does.</summary>
public sealed class MconsoleClientTests : IDisposable
{
    private readonly string _folder = Path.Combine("/tmp", "hyp-mc-" + Guid.NewGuid().ToString("N")[..8]);

    public MconsoleClientTests() => Directory.CreateDirectory(_folder);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_request_carries_magic_version_length_and_text_and_a_multi_packet_answer_is_joined()
    {
        using var kernel = Bind("mconsole");
        var client = new MconsoleClient(Path.Combine(_folder, "mconsole"), TimeSpan.FromSeconds(5));
        var answer = client.SendAsync("proc meminfo", Ct);

        var (request, sender) = await ReceiveAsync(kernel);
        Assert.Equal(0xcafebabeu, BitConverter.ToUInt32(request, 0));
        Assert.Equal(2u, BitConverter.ToUInt32(request, 4));
        Assert.Equal((uint)"proc meminfo".Length, BitConverter.ToUInt32(request, 8));
        Assert.Equal("proc meminfo", MconsoleProtocol.DecodeRequest(request));
        await kernel.SendToAsync(MconsoleProtocol.EncodeReply(error: false, more: true, "MemTotal: 1 kB\n"), SocketFlags.None, sender, Ct);
        await kernel.SendToAsync(MconsoleProtocol.EncodeReply(error: false, more: false, "MemFree: 2 kB\n"), SocketFlags.None, sender, Ct);

        var reply = await answer;
        Assert.False(reply.IsError);
        Assert.Equal("MemTotal: 1 kB\nMemFree: 2 kB\n", reply.Text);
        Assert.Equal("OK MemTotal: 1 kB\nMemFree: 2 kB\n", reply.ToString());
    }

    [Fact]
    public async Task An_error_answer_is_returned_with_its_text()
    {
        using var kernel = Bind("mconsole");
        var client = new MconsoleClient(Path.Combine(_folder, "mconsole"), TimeSpan.FromSeconds(5));
        var answer = client.SendAsync("bogus", Ct);
        var (_, sender) = await ReceiveAsync(kernel);
        await kernel.SendToAsync(MconsoleProtocol.EncodeReply(error: true, more: false, "Unknown command"), SocketFlags.None, sender, Ct);

        var reply = await answer;
        Assert.True(reply.IsError);
        Assert.Equal("ERR Unknown command", reply.ToString());
    }

    [Fact]
    public async Task A_kernel_that_does_not_answer_times_out()
    {
        using var kernel = Bind("mconsole");
        var client = new MconsoleClient(Path.Combine(_folder, "mconsole"), TimeSpan.FromMilliseconds(300));
        var ex = await Assert.ThrowsAsync<MconsoleException>(() => client.SendAsync("version", Ct));
        Assert.Equal(MconsoleFailure.Timeout, ex.Failure);
    }

    [Fact]
    public async Task A_missing_socket_is_unavailable()
    {
        var client = new MconsoleClient(Path.Combine(_folder, "nothing-here"), TimeSpan.FromSeconds(1));
        var ex = await Assert.ThrowsAsync<MconsoleException>(() => client.SendAsync("version", Ct));
        Assert.Equal(MconsoleFailure.NoKernel, ex.Failure);
    }

    [Theory]
    [InlineData("")]
    [InlineData("config ubd1=/x\n")]
    [InlineData("version\0")]
    public async Task Commands_the_kernel_cannot_take_are_refused_before_sending(string command)
    {
        var client = new MconsoleClient(Path.Combine(_folder, "mconsole"), TimeSpan.FromSeconds(1));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => client.SendAsync(command, Ct));
    }

    [Fact]
    public async Task A_command_of_512_bytes_is_refused_and_one_of_511_is_sent()
    {
        Assert.Throws<ArgumentException>(() => MconsoleProtocol.EncodeRequest(new string('x', 512)));
        var packet = MconsoleProtocol.EncodeRequest(new string('x', 511));
        Assert.Equal(511u, BitConverter.ToUInt32(packet, 8));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task The_notify_listener_decodes_what_the_kernel_sends_and_ignores_other_datagrams()
    {
        var path = Path.Combine(_folder, "notify");
        await using var listener = new MconsoleNotificationListener(path);
        using var sender = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        var target = new UnixDomainSocketEndPoint(path);
        await sender.SendToAsync(new byte[] { 1, 2, 3 }, SocketFlags.None, target, Ct);
        await sender.SendToAsync(MconsoleProtocol.EncodeNotification(MconsoleNotificationType.Socket, "/run/x/mconsole"), SocketFlags.None, target, Ct);
        await sender.SendToAsync(MconsoleProtocol.EncodeNotification(MconsoleNotificationType.Panic, "Kernel panic"), SocketFlags.None, target, Ct);

        var first = await listener.Notifications.ReadAsync(Ct);
        var second = await listener.Notifications.ReadAsync(Ct);
        Assert.Equal(new MconsoleNotification(MconsoleNotificationType.Socket, "/run/x/mconsole"), first);
        Assert.Equal(new MconsoleNotification(MconsoleNotificationType.Panic, "Kernel panic"), second);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private Socket Bind(string name)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(Path.Combine(_folder, name)));
        return socket;
    }

    private static async Task<(byte[] Request, System.Net.EndPoint Sender)> ReceiveAsync(Socket kernel)
    {
        var buffer = new byte[1024];
        var result = await kernel.ReceiveFromAsync(buffer, SocketFlags.None, new UnixDomainSocketEndPoint("/unused"), Ct);
        return (buffer[..result.ReceivedBytes], result.RemoteEndPoint);
    }
}
