using System.Globalization;
using System.Xml;

namespace Hypervisors.Xen.Wire;

/// <summary>A decoded <c>methodResponse</c>: either a value or a fault.</summary>
/// <param name="Value">The single returned value (for XenAPI, the envelope struct), or the fault struct.</param>
/// <param name="IsFault">Whether the response was a <c>fault</c>.</param>
internal sealed record XmlRpcResponse(object? Value, bool IsFault);

/// <summary>A decoded <c>methodCall</c>.</summary>
/// <param name="MethodName">The method.</param>
/// <param name="Parameters">The parameters in order.</param>
internal sealed record XmlRpcCall(string MethodName, object?[] Parameters);

/// <summary>
/// Streaming XML-RPC decoder on <see cref="XmlReader"/>: DTDs are refused, the document, strings and nesting are
/// bounded by <see cref="XmlRpcLimits"/>, and any malformed input ends in <see cref="XenApiProtocolException"/>.
/// Values decode to the model described on <see cref="XenValue"/>.
/// </summary>
internal sealed class XmlRpcReader
{
    private readonly XmlReader _reader;
    private readonly XmlRpcLimits _limits;
    private readonly string _value;
    private readonly string _struct;
    private readonly string _member;
    private readonly string _name;
    private readonly string _array;
    private readonly string _data;
    private readonly string _string;
    private readonly string _int;
    private readonly string _i4;
    private readonly string _i8;
    private readonly string _boolean;
    private readonly string _double;
    private readonly string _dateTime;
    private readonly string _base64;
    private readonly string _nil;

    private XmlRpcReader(Stream input, XmlRpcLimits limits)
    {
        _limits = limits;
        var names = new NameTable();
        _value = names.Add("value");
        _struct = names.Add("struct");
        _member = names.Add("member");
        _name = names.Add("name");
        _array = names.Add("array");
        _data = names.Add("data");
        _string = names.Add("string");
        _int = names.Add("int");
        _i4 = names.Add("i4");
        _i8 = names.Add("i8");
        _boolean = names.Add("boolean");
        _double = names.Add("double");
        _dateTime = names.Add("dateTime.iso8601");
        _base64 = names.Add("base64");
        _nil = names.Add("nil");
        _reader = XmlReader.Create(input, new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = limits.MaxDocumentCharacters,
            MaxCharactersFromEntities = 1024,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
            IgnoreWhitespace = false,
            CloseInput = false,
            NameTable = names,
        });
    }

    /// <summary>Decodes a <c>methodResponse</c>.</summary>
    public static XmlRpcResponse ReadResponse(Stream input, XmlRpcLimits? limits = null) =>
        Run(input, limits, r => r.ReadMethodResponse());

    /// <summary>Decodes a <c>methodResponse</c> from bytes.</summary>
    public static XmlRpcResponse ReadResponse(ReadOnlyMemory<byte> input, XmlRpcLimits? limits = null)
    {
        using var stream = AsStream(input);
        return ReadResponse(stream, limits);
    }

    /// <summary>Decodes a <c>methodCall</c>.</summary>
    public static XmlRpcCall ReadCall(Stream input, XmlRpcLimits? limits = null) =>
        Run(input, limits, r => r.ReadMethodCall());

    /// <summary>Decodes a <c>methodCall</c> from bytes.</summary>
    public static XmlRpcCall ReadCall(ReadOnlyMemory<byte> input, XmlRpcLimits? limits = null)
    {
        using var stream = AsStream(input);
        return ReadCall(stream, limits);
    }

    /// <summary>Decodes one <c>&lt;value&gt;</c> element given as text (a task's result).</summary>
    public static object? ReadValueText(string valueXml, XmlRpcLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(valueXml);
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(valueXml), writable: false);
        return Run(stream, limits, r =>
        {
            r.MoveToElement(r._value);
            return r.ReadValue(0);
        });
    }

    private static MemoryStream AsStream(ReadOnlyMemory<byte> input) =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray(input, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(input.ToArray(), writable: false);

    private static T Run<T>(Stream input, XmlRpcLimits? limits, Func<XmlRpcReader, T> read)
    {
        ArgumentNullException.ThrowIfNull(input);
        try
        {
            var parser = new XmlRpcReader(input, limits ?? XmlRpcLimits.Default);
            using (parser._reader)
            {
                var result = read(parser);

                // Read to the end so that a truncated or trailing-garbage document is refused.
                while (parser._reader.Read())
                {
                    if (parser._reader.NodeType is XmlNodeType.Element or XmlNodeType.Text or XmlNodeType.CDATA)
                    {
                        throw new XenApiProtocolException($"unexpected content after the message: {parser._reader.NodeType} '{parser._reader.LocalName}'.");
                    }
                }

                return result;
            }
        }
        catch (XmlException ex)
        {
            throw new XenApiProtocolException("malformed XML: " + ex.Message, ex);
        }
        catch (FormatException ex)
        {
            throw new XenApiProtocolException("malformed scalar: " + ex.Message, ex);
        }
        catch (OverflowException ex)
        {
            throw new XenApiProtocolException("number out of range: " + ex.Message, ex);
        }
        catch (InvalidOperationException ex)
        {
            throw new XenApiProtocolException("malformed XML: " + ex.Message, ex);
        }
    }

    private XmlRpcResponse ReadMethodResponse()
    {
        MoveToElement("methodResponse");
        EnterChildren("methodResponse");
        SkipWhitespace();
        ExpectStart();
        switch (_reader.LocalName)
        {
            case "params":
                EnterChildren("params");
                MoveToElement("param");
                EnterChildren("param");
                MoveToElement(_value);
                var value = ReadValue(0);
                LeaveElement("param");
                LeaveElement("params");
                LeaveElement("methodResponse");
                return new XmlRpcResponse(value, IsFault: false);
            case "fault":
                EnterChildren("fault");
                MoveToElement(_value);
                var fault = ReadValue(0);
                LeaveElement("fault");
                LeaveElement("methodResponse");
                return new XmlRpcResponse(fault, IsFault: true);
            default:
                throw Unexpected("params or fault");
        }
    }

    private XmlRpcCall ReadMethodCall()
    {
        MoveToElement("methodCall");
        EnterChildren("methodCall");
        MoveToElement("methodName");
        var name = ReadScalarText().Trim();
        if (name.Length == 0)
        {
            throw new XenApiProtocolException("the methodName is empty.");
        }

        var parameters = new List<object?>();
        SkipWhitespace();
        if (_reader.NodeType == XmlNodeType.Element && _reader.LocalName == "params")
        {
            if (_reader.IsEmptyElement)
            {
                _reader.Read();
            }
            else
            {
                _reader.Read();
                while (true)
                {
                    SkipWhitespace();
                    if (_reader.NodeType == XmlNodeType.EndElement)
                    {
                        _reader.Read();
                        break;
                    }

                    MoveToElement("param");
                    EnterChildren("param");
                    MoveToElement(_value);
                    parameters.Add(ReadValue(0));
                    LeaveElement("param");
                }
            }
        }

        LeaveElement("methodCall");
        return new XmlRpcCall(name, [.. parameters]);
    }

    /// <summary>Reads a <c>value</c> element (the reader is on its start tag) and moves past its end tag.</summary>
    private object? ReadValue(int depth)
    {
        if (_reader.IsEmptyElement)
        {
            _reader.Read();
            return string.Empty;
        }

        _reader.Read();
        string? text = null;
        while (true)
        {
            switch (_reader.NodeType)
            {
                case XmlNodeType.Text:
                case XmlNodeType.CDATA:
                case XmlNodeType.Whitespace:
                case XmlNodeType.SignificantWhitespace:
                    text = AppendText(text);
                    break;
                case XmlNodeType.Element:
                    if (text is not null && !string.IsNullOrWhiteSpace(text))
                    {
                        throw new XenApiProtocolException("a value mixes text and a typed element.");
                    }

                    var typed = ReadTyped(depth);
                    SkipWhitespace();
                    if (_reader.NodeType != XmlNodeType.EndElement)
                    {
                        throw Unexpected("</value>");
                    }

                    _reader.Read();
                    return typed;
                case XmlNodeType.EndElement:
                    _reader.Read();
                    return text ?? string.Empty;
                default:
                    throw Unexpected("a value");
            }
        }
    }

    private object? ReadTyped(int depth)
    {
        var tag = _reader.LocalName;
        if (ReferenceEquals(tag, _string))
        {
            return ReadScalarText();
        }

        if (ReferenceEquals(tag, _struct))
        {
            return ReadStruct(depth + 1);
        }

        if (ReferenceEquals(tag, _array))
        {
            return ReadArray(depth + 1);
        }

        if (ReferenceEquals(tag, _int) || ReferenceEquals(tag, _i4) || ReferenceEquals(tag, _i8))
        {
            var text = ReadScalarText();
            return long.Parse(text.AsSpan().Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        }

        if (ReferenceEquals(tag, _boolean))
        {
            return ReadScalarText().Trim() switch
            {
                "1" or "true" => true,
                "0" or "false" => false,
                var other => throw new XenApiProtocolException($"'{Shorten(other)}' is not a boolean."),
            };
        }

        if (ReferenceEquals(tag, _double))
        {
            return double.Parse(ReadScalarText().AsSpan().Trim(), NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        if (ReferenceEquals(tag, _dateTime))
        {
            var text = ReadScalarText();
            return XenValue.TryParseDateTime(text, out var time)
                ? time
                : throw new XenApiProtocolException($"'{Shorten(text)}' is not a dateTime.iso8601.");
        }

        if (ReferenceEquals(tag, _base64))
        {
            return Convert.FromBase64String(ReadScalarText());
        }

        if (ReferenceEquals(tag, _nil))
        {
            if (ReadScalarText().Length != 0)
            {
                throw new XenApiProtocolException("<nil> has content.");
            }

            return null;
        }

        throw new XenApiProtocolException($"unknown value type <{Shorten(tag)}>.");
    }

    private Dictionary<string, object?> ReadStruct(int depth)
    {
        CheckDepth(depth);
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (_reader.IsEmptyElement)
        {
            _reader.Read();
            return result;
        }

        _reader.Read();
        while (true)
        {
            SkipWhitespace();
            if (_reader.NodeType == XmlNodeType.EndElement)
            {
                _reader.Read();
                return result;
            }

            if (_reader.NodeType != XmlNodeType.Element || !ReferenceEquals(_reader.LocalName, _member) || _reader.IsEmptyElement)
            {
                throw Unexpected("<member>");
            }

            _reader.Read();
            SkipWhitespace();
            if (_reader.NodeType != XmlNodeType.Element || !ReferenceEquals(_reader.LocalName, _name))
            {
                throw Unexpected("<name>");
            }

            var name = ReadScalarText();
            SkipWhitespace();
            if (_reader.NodeType != XmlNodeType.Element || !ReferenceEquals(_reader.LocalName, _value))
            {
                throw Unexpected("<value>");
            }

            result[name] = ReadValue(depth);
            SkipWhitespace();
            if (_reader.NodeType != XmlNodeType.EndElement)
            {
                throw Unexpected("</member>");
            }

            _reader.Read();
        }
    }

    private object?[] ReadArray(int depth)
    {
        CheckDepth(depth);
        if (_reader.IsEmptyElement)
        {
            _reader.Read();
            return [];
        }

        _reader.Read();
        SkipWhitespace();
        if (_reader.NodeType == XmlNodeType.EndElement)
        {
            _reader.Read();
            return [];
        }

        if (_reader.NodeType != XmlNodeType.Element || !ReferenceEquals(_reader.LocalName, _data))
        {
            throw Unexpected("<data>");
        }

        var items = new List<object?>();
        if (_reader.IsEmptyElement)
        {
            _reader.Read();
        }
        else
        {
            _reader.Read();
            while (true)
            {
                SkipWhitespace();
                if (_reader.NodeType == XmlNodeType.EndElement)
                {
                    _reader.Read();
                    break;
                }

                if (_reader.NodeType != XmlNodeType.Element || !ReferenceEquals(_reader.LocalName, _value))
                {
                    throw Unexpected("<value>");
                }

                items.Add(ReadValue(depth));
            }
        }

        SkipWhitespace();
        if (_reader.NodeType != XmlNodeType.EndElement)
        {
            throw Unexpected("</array>");
        }

        _reader.Read();
        return [.. items];
    }

    /// <summary>Reads the text of a scalar element (the reader is on its start tag) and moves past its end tag.</summary>
    private string ReadScalarText()
    {
        if (_reader.IsEmptyElement)
        {
            _reader.Read();
            return string.Empty;
        }

        _reader.Read();
        string? text = null;
        while (_reader.NodeType != XmlNodeType.EndElement)
        {
            if (_reader.NodeType is XmlNodeType.Text or XmlNodeType.CDATA or XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace)
            {
                text = AppendText(text);
            }
            else
            {
                throw Unexpected("text");
            }
        }

        _reader.Read();
        return text ?? string.Empty;
    }

    /// <summary>Adds the current text node to <paramref name="text"/> (checking the length) and moves on.</summary>
    private string AppendText(string? text)
    {
        text = text is null ? _reader.Value : string.Concat(text, _reader.Value);
        CheckLength(text);
        _reader.Read();
        return text;
    }

    private void SkipWhitespace()
    {
        while (_reader.NodeType is XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace or XmlNodeType.XmlDeclaration or XmlNodeType.None)
        {
            if (!_reader.Read())
            {
                throw new XenApiProtocolException("the document ended early.");
            }
        }
    }

    private void MoveToElement(string name)
    {
        SkipWhitespace();
        if (_reader.NodeType != XmlNodeType.Element || _reader.LocalName != name)
        {
            throw Unexpected("<" + name + ">");
        }
    }

    private void EnterChildren(string name)
    {
        if (_reader.IsEmptyElement)
        {
            throw new XenApiProtocolException($"<{name}> is empty.");
        }

        _reader.Read();
    }

    private void LeaveElement(string name)
    {
        SkipWhitespace();
        if (_reader.NodeType != XmlNodeType.EndElement || _reader.LocalName != name)
        {
            throw Unexpected("</" + name + ">");
        }

        _reader.Read();
    }

    private void ExpectStart()
    {
        if (_reader.NodeType != XmlNodeType.Element)
        {
            throw Unexpected("an element");
        }
    }

    private void CheckDepth(int depth)
    {
        if (depth > _limits.MaxDepth)
        {
            throw new XenApiProtocolException($"values are nested more than {_limits.MaxDepth} levels deep.");
        }
    }

    private void CheckLength(string text)
    {
        if (text.Length > _limits.MaxStringLength)
        {
            throw new XenApiProtocolException($"a string is longer than {_limits.MaxStringLength} characters.");
        }
    }

    private XenApiProtocolException Unexpected(string expected)
    {
        var found = _reader.NodeType switch
        {
            XmlNodeType.Element => "<" + Shorten(_reader.LocalName) + ">",
            XmlNodeType.EndElement => "</" + Shorten(_reader.LocalName) + ">",
            XmlNodeType.Text => "text '" + Shorten(_reader.Value) + "'",
            XmlNodeType.None => "the end of the document",
            var other => other.ToString(),
        };
        var info = (IXmlLineInfo)_reader;
        return new XenApiProtocolException(string.Create(CultureInfo.InvariantCulture,
            $"expected {expected} but found {found} at line {info.LineNumber}, position {info.LinePosition}."));
    }

    private static string Shorten(string text) => text.Length <= 64 ? text : string.Concat(text.AsSpan(0, 64), "...");
}
