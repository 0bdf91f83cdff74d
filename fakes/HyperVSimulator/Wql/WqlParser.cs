using System.Text;

namespace HyperVSimulator.Wql;

/// <summary>A WQL syntax error; the endpoint turns it into a CannotProcessFilter fault.</summary>
public sealed class WqlException(string message) : Exception(message);

/// <summary>
/// Parses the WQL subset WMI's WS-Man provider is used with: <c>SELECT * | p1, p2 FROM Class [WHERE cond]</c> with
/// =, !=, &lt;&gt;, &lt;, &gt;, &lt;=, &gt;=, LIKE, IS [NOT] NULL, AND, OR, NOT and parentheses; and
/// <c>ASSOCIATORS OF {Class.Key="v",...} [WHERE AssocClass = A ResultClass = R]</c>. Keywords are case-insensitive;
/// strings are quoted with ' or " and use backslash escapes.
/// </summary>
public sealed class WqlParser
{
    private readonly List<(string Kind, string Text)> _tokens;
    private int _position;

    private WqlParser(List<(string, string)> tokens) => _tokens = tokens;

    public static WqlQuery Parse(string text)
    {
        var trimmed = text.Trim();
        if (trimmed.StartsWith("ASSOCIATORS", StringComparison.OrdinalIgnoreCase))
        {
            return ParseAssociators(trimmed);
        }

        var parser = new WqlParser(Tokenize(trimmed));
        var query = parser.ParseSelect();
        if (parser._position != parser._tokens.Count)
        {
            throw new WqlException($"unexpected '{parser._tokens[parser._position].Text}' after the query.");
        }

        return query;
    }

    private static AssociatorsQuery ParseAssociators(string text)
    {
        var open = text.IndexOf('{', StringComparison.Ordinal);
        var close = text.LastIndexOf('}');
        var head = open < 0 ? string.Empty : text[..open].Trim();
        if (open < 0 || close < open || !string.Equals(NormalizeSpaces(head), "ASSOCIATORS OF", StringComparison.OrdinalIgnoreCase))
        {
            throw new WqlException("expected ASSOCIATORS OF {object path}.");
        }

        var (sourceClass, keys) = ObjectPath.Parse(text[(open + 1)..close]);
        string? assocClass = null, resultClass = null;
        var rest = text[(close + 1)..].Trim();
        if (rest.Length > 0)
        {
            var tokens = Tokenize(rest);
            if (!tokens[0].Text.Equals("WHERE", StringComparison.OrdinalIgnoreCase))
            {
                throw new WqlException("expected WHERE after the object path.");
            }

            for (var i = 1; i < tokens.Count; i += 3)
            {
                if (i + 2 >= tokens.Count || tokens[i + 1].Text != "=")
                {
                    throw new WqlException("expected Name = Value pairs after WHERE.");
                }

                var name = tokens[i].Text;
                var value = tokens[i + 2].Text;
                if (name.Equals("AssocClass", StringComparison.OrdinalIgnoreCase))
                {
                    assocClass = value;
                }
                else if (name.Equals("ResultClass", StringComparison.OrdinalIgnoreCase))
                {
                    resultClass = value;
                }
                else if (!name.Equals("Role", StringComparison.OrdinalIgnoreCase) && !name.Equals("ResultRole", StringComparison.OrdinalIgnoreCase))
                {
                    throw new WqlException($"'{name}' is not supported in an ASSOCIATORS OF query.");
                }
            }
        }

        return new AssociatorsQuery(sourceClass, keys, assocClass, resultClass);
    }

    private static string NormalizeSpaces(string text) => string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    private SelectQuery ParseSelect()
    {
        ExpectKeyword("SELECT");
        List<string>? properties = null;
        if (Peek().Text == "*")
        {
            _position++;
        }
        else
        {
            properties = [ExpectIdentifier()];
            while (Peek().Text == ",")
            {
                _position++;
                properties.Add(ExpectIdentifier());
            }
        }

        ExpectKeyword("FROM");
        var className = ExpectIdentifier();
        WqlCondition? where = null;
        if (IsKeyword("WHERE"))
        {
            _position++;
            where = ParseOr();
        }

        return new SelectQuery(properties, className, where);
    }

    private WqlCondition ParseOr()
    {
        var left = ParseAnd();
        while (IsKeyword("OR"))
        {
            _position++;
            left = new OrCondition(left, ParseAnd());
        }

        return left;
    }

    private WqlCondition ParseAnd()
    {
        var left = ParseUnary();
        while (IsKeyword("AND"))
        {
            _position++;
            left = new AndCondition(left, ParseUnary());
        }

        return left;
    }

    private WqlCondition ParseUnary()
    {
        if (IsKeyword("NOT"))
        {
            _position++;
            return new NotCondition(ParseUnary());
        }

        if (Peek().Text == "(")
        {
            _position++;
            var inner = ParseOr();
            if (Next().Text != ")")
            {
                throw new WqlException("expected ')'.");
            }

            return inner;
        }

        var property = ExpectIdentifier();
        if (IsKeyword("IS"))
        {
            _position++;
            var negated = IsKeyword("NOT");
            if (negated)
            {
                _position++;
            }

            ExpectKeyword("NULL");
            return new Comparison(property, negated ? "IS NOT NULL" : "IS NULL", null);
        }

        var op = Next();
        var opText = op.Kind == "id" && op.Text.Equals("LIKE", StringComparison.OrdinalIgnoreCase) ? "LIKE" : op.Text;
        if (opText is not ("=" or "!=" or "<>" or "<" or ">" or "<=" or ">=" or "LIKE"))
        {
            throw new WqlException($"expected a comparison operator after '{property}', found '{op.Text}'.");
        }

        var literal = Next();
        if (literal.Kind is not ("string" or "number" or "id"))
        {
            throw new WqlException($"expected a literal after '{opText}'.");
        }

        return new Comparison(property, opText, literal.Kind == "id" && literal.Text.Equals("NULL", StringComparison.OrdinalIgnoreCase) ? null : literal.Text);
    }

    private (string Kind, string Text) Peek() => _position < _tokens.Count ? _tokens[_position] : ("end", string.Empty);

    private (string Kind, string Text) Next() => _position < _tokens.Count ? _tokens[_position++] : throw new WqlException("the query ends too early.");

    private bool IsKeyword(string keyword) => Peek() is ("id", var t) && t.Equals(keyword, StringComparison.OrdinalIgnoreCase);

    private void ExpectKeyword(string keyword)
    {
        if (!IsKeyword(keyword))
        {
            throw new WqlException($"expected {keyword}, found '{Peek().Text}'.");
        }

        _position++;
    }

    private string ExpectIdentifier()
    {
        var token = Next();
        return token.Kind == "id" ? token.Text : throw new WqlException($"expected a name, found '{token.Text}'.");
    }

    private static List<(string Kind, string Text)> Tokenize(string text)
    {
        var tokens = new List<(string, string)>();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c is '\'' or '"')
            {
                var value = new StringBuilder();
                i++;
                while (true)
                {
                    if (i >= text.Length)
                    {
                        throw new WqlException("unterminated string.");
                    }

                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        value.Append(text[i + 1]);
                        i += 2;
                    }
                    else if (text[i] == c)
                    {
                        i++;
                        break;
                    }
                    else
                    {
                        value.Append(text[i++]);
                    }
                }

                tokens.Add(("string", value.ToString()));
            }
            else if (char.IsAsciiDigit(c) || (c == '-' && i + 1 < text.Length && char.IsAsciiDigit(text[i + 1])))
            {
                var start = i++;
                while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
                {
                    i++;
                }

                tokens.Add(("number", text[start..i]));
            }
            else if (char.IsLetter(c) || c == '_')
            {
                var start = i;
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] == '_'))
                {
                    i++;
                }

                tokens.Add(("id", text[start..i]));
            }
            else if (i + 1 < text.Length && text.Substring(i, 2) is "!=" or "<>" or "<=" or ">=")
            {
                tokens.Add(("op", text.Substring(i, 2)));
                i += 2;
            }
            else if (c is '=' or '<' or '>' or '*' or ',' or '(' or ')')
            {
                tokens.Add(("op", c.ToString()));
                i++;
            }
            else
            {
                throw new WqlException($"unexpected character '{c}' at {i}.");
            }
        }

        return tokens;
    }
}

/// <summary>WMI object paths: <c>[\\host\ns:]Class.Key="v",Key2="v2"</c> or <c>Class="v"</c>, with backslash escapes.</summary>
public static class ObjectPath
{
    public static (string ClassName, IReadOnlyDictionary<string, string> Keys) Parse(string path)
    {
        var text = path.Trim();
        var firstQuote = text.IndexOf('"', StringComparison.Ordinal);
        var prefixEnd = (firstQuote < 0 ? text : text[..firstQuote]).LastIndexOf(':');
        if (prefixEnd >= 0)
        {
            text = text[(prefixEnd + 1)..];
        }

        var dot = text.IndexOf('.', StringComparison.Ordinal);
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        var keys = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (dot < 0 || (equals >= 0 && equals < dot))
        {
            if (equals < 0)
            {
                return (text, keys);
            }

            keys[string.Empty] = ReadQuoted(text, equals + 1, out _);
            return (text[..equals], keys);
        }

        var className = text[..dot];
        var i = dot + 1;
        while (i < text.Length)
        {
            var eq = text.IndexOf('=', i);
            if (eq < 0)
            {
                throw new WqlException($"bad object path '{path}'.");
            }

            var name = text[i..eq].Trim();
            keys[name] = ReadQuoted(text, eq + 1, out var next);
            i = next;
            while (i < text.Length && (text[i] == ',' || char.IsWhiteSpace(text[i])))
            {
                i++;
            }
        }

        return (className, keys);
    }

    private static string ReadQuoted(string text, int start, out int next)
    {
        var i = start;
        while (i < text.Length && char.IsWhiteSpace(text[i]))
        {
            i++;
        }

        if (i >= text.Length || text[i] != '"')
        {
            var end = text.IndexOf(',', i);
            end = end < 0 ? text.Length : end;
            next = end;
            return text[i..end].Trim();
        }

        var value = new StringBuilder();
        i++;
        while (i < text.Length && text[i] != '"')
        {
            if (text[i] == '\\' && i + 1 < text.Length)
            {
                i++;
            }

            value.Append(text[i++]);
        }

        if (i >= text.Length)
        {
            throw new WqlException($"unterminated key value in object path '{text}'.");
        }

        next = i + 1;
        return value.ToString();
    }
}
