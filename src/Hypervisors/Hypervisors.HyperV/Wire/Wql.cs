using System.Text;

namespace Hypervisors.HyperV.Wire;

/// <summary>Builds WQL text and WMI object paths with every value quoted and escaped, never spliced raw.</summary>
internal static class Wql
{
    /// <summary>A WQL string literal: single-quoted, with backslash and quote escaped.</summary>
    public static string Quote(string value) => "'" + Escape(value, '\'') + "'";

    /// <summary>A relative WMI object path: <c>Class.Key1="v1",Key2="v2"</c> with values escaped.</summary>
    public static string ObjectPath(string className, params IEnumerable<KeyValuePair<string, string>> keys)
    {
        var text = new StringBuilder(className).Append('.');
        var first = true;
        foreach (var (name, value) in keys)
        {
            if (!first)
            {
                text.Append(',');
            }

            text.Append(name).Append("=\"").Append(Escape(value, '"')).Append('"');
            first = false;
        }

        return text.ToString();
    }

    /// <summary>The object path of the instance <paramref name="reference"/> points at (without <c>__cimnamespace</c>).</summary>
    public static string ObjectPath(EndpointReference reference) =>
        ObjectPath(reference.ClassName, reference.Selectors.Where(s => !s.Key.StartsWith("__", StringComparison.Ordinal)));

    private static string Escape(string value, char quote)
    {
        var text = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            if (c == '\\' || c == quote)
            {
                text.Append('\\');
            }

            text.Append(c);
        }

        return text.ToString();
    }
}
