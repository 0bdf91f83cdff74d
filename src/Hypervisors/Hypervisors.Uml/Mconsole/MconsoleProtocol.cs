using System.Buffers.Binary;
using System.Text;

namespace Hypervisors.Uml.Mconsole;

/// <summary>
/// The mconsole wire format (the kernel's <c>arch/um/drivers/mconsole.h</c>). Every field is a 32-bit integer in the
/// host's byte order, since client and kernel share one machine.
/// <list type="bullet">
/// <item>request: magic 0xcafebabe, version 2, len, then up to 512 bytes of command text (len &lt; 512);</item>
/// <item>reply: err, more, len (counting a trailing NUL), then the text; a long answer spans several replies, every
/// one but the last with <c>more</c> set;</item>
/// <item>notification (to the <c>mconsole=notify:</c> socket): magic, version, type, len, then the data.</item>
/// </list>
/// </summary>
internal static class MconsoleProtocol
{
    public const uint Magic = 0xcafebabe;
    public const uint Version = 2;
    public const int MaxData = 512;
    public const int HeaderSize = 12;
    public const int NotificationHeaderSize = 16;

    /// <summary>Encodes a request; the command must be printable ASCII shorter than <see cref="MaxData"/> bytes.</summary>
    public static byte[] EncodeRequest(string command)
    {
        ValidateCommand(command);
        var packet = new byte[HeaderSize + MaxData];
        WriteUInt32(packet.AsSpan(0), Magic);
        WriteUInt32(packet.AsSpan(4), Version);
        WriteUInt32(packet.AsSpan(8), (uint)command.Length);
        Encoding.ASCII.GetBytes(command, packet.AsSpan(HeaderSize));
        return packet;
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless the kernel can take <paramref name="command"/> in one request.</summary>
    public static void ValidateCommand(string command)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(command);
        if (command.Length >= MaxData)
        {
            throw new ArgumentException($"An mconsole command is shorter than {MaxData} bytes; this one has {command.Length}.", nameof(command));
        }

        foreach (var c in command)
        {
            if (c is < ' ' or > '~')
            {
                throw new ArgumentException($"An mconsole command is printable ASCII; this one holds U+{(int)c:X4}.", nameof(command));
            }
        }
    }

    /// <summary>Decodes one reply packet.</summary>
    public static (bool Error, bool More, string Text) DecodeReply(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < HeaderSize)
        {
            throw new InvalidDataException($"An mconsole reply has a {HeaderSize}-byte header; this one has {packet.Length} bytes.");
        }

        var error = ReadUInt32(packet) != 0;
        var more = ReadUInt32(packet[4..]) != 0;
        var length = (int)Math.Min(ReadUInt32(packet[8..]), (uint)(packet.Length - HeaderSize));
        return (error, more, DecodeText(packet.Slice(HeaderSize, length)));
    }

    /// <summary>Decodes one notification packet, or returns null when it does not carry the mconsole magic.</summary>
    public static MconsoleNotification? DecodeNotification(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < NotificationHeaderSize || ReadUInt32(packet) != Magic)
        {
            return null;
        }

        var type = (MconsoleNotificationType)ReadUInt32(packet[8..]);
        var length = (int)Math.Min(ReadUInt32(packet[12..]), (uint)(packet.Length - NotificationHeaderSize));
        return new MconsoleNotification(type, DecodeText(packet.Slice(NotificationHeaderSize, length)));
    }

    /// <summary>Encodes a notification as the kernel sends it (for tests of the listener).</summary>
    public static byte[] EncodeNotification(MconsoleNotificationType type, string text)
    {
        var data = Encoding.UTF8.GetBytes(text + "\0");
        var packet = new byte[NotificationHeaderSize + data.Length];
        WriteUInt32(packet.AsSpan(0), Magic);
        WriteUInt32(packet.AsSpan(4), Version);
        WriteUInt32(packet.AsSpan(8), (uint)type);
        WriteUInt32(packet.AsSpan(12), (uint)data.Length);
        data.CopyTo(packet.AsSpan(NotificationHeaderSize));
        return packet;
    }

    /// <summary>Encodes a reply as the kernel sends it (for tests of the client).</summary>
    public static byte[] EncodeReply(bool error, bool more, string text)
    {
        var data = Encoding.UTF8.GetBytes(text + "\0");
        var packet = new byte[HeaderSize + data.Length];
        WriteUInt32(packet.AsSpan(0), error ? 1u : 0u);
        WriteUInt32(packet.AsSpan(4), more ? 1u : 0u);
        WriteUInt32(packet.AsSpan(8), (uint)data.Length);
        data.CopyTo(packet.AsSpan(HeaderSize));
        return packet;
    }

    /// <summary>Reads a request's command (for tests of the client).</summary>
    public static string DecodeRequest(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < HeaderSize || ReadUInt32(packet) != Magic || ReadUInt32(packet[4..]) != Version)
        {
            throw new InvalidDataException("Not an mconsole version 2 request.");
        }

        var length = (int)Math.Min(ReadUInt32(packet[8..]), (uint)(packet.Length - HeaderSize));
        return Encoding.ASCII.GetString(packet.Slice(HeaderSize, length));
    }

    private static string DecodeText(ReadOnlySpan<byte> data)
    {
        var end = data.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? data : data[..end]);
    }

    private static uint ReadUInt32(ReadOnlySpan<byte> bytes) =>
        BitConverter.IsLittleEndian ? BinaryPrimitives.ReadUInt32LittleEndian(bytes) : BinaryPrimitives.ReadUInt32BigEndian(bytes);

    private static void WriteUInt32(Span<byte> bytes, uint value)
    {
        if (BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        }
    }
}
