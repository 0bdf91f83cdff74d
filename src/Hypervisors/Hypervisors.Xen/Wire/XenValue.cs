using System.Globalization;

namespace Hypervisors.Xen.Wire;

/// <summary>
/// The decoded value model shared by both transports and the helpers to read it. A decoded value is one of:
/// <see cref="string"/>, <see cref="long"/> (int, i4, i8, JSON integers), <see cref="bool"/>, <see cref="double"/>,
/// <see cref="DateTime"/> (UTC), <see cref="byte"/>[] (base64), <see cref="Dictionary{TKey,TValue}"/> of string to
/// value (struct), <see cref="object"/>?[] (array) or <see langword="null"/> (nil).
/// </summary>
/// <remarks>
/// XenAPI sends 64-bit integers as decimal strings over XML-RPC and as numbers over JSON-RPC, so the readers here
/// accept both.
/// </remarks>
internal static class XenValue
{
    /// <summary>XenAPI's null reference.</summary>
    public const string NullRef = "OpaqueRef:NULL";

    private static readonly string[] DateTimeFormats =
    [
        "yyyyMMdd'T'HH:mm:ss'Z'", "yyyyMMdd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss'Z'", "yyyy-MM-dd'T'HH:mm:ss",
        "yyyyMMdd'T'HHmmss'Z'", "yyyyMMdd'T'HHmmss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz",
        "yyyy-MM-dd'T'HH:mm:sszzz", "yyyyMMdd'T'HH:mm:sszzz",
    ];

    /// <summary>A value as text: strings as they are, numbers in invariant form, booleans as "true"/"false".</summary>
    public static string ToText(object? value) => value switch
    {
        null => string.Empty,
        string s => s,
        long l => l.ToString(CultureInfo.InvariantCulture),
        int i => i.ToString(CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        DateTime t => FormatDateTime(t),
        byte[] bytes => Convert.ToBase64String(bytes),
        _ => throw new XenApiProtocolException($"expected a scalar, got {Describe(value)}."),
    };

    /// <summary>A 64-bit integer from a number or a decimal string.</summary>
    public static long ToInt64(object? value) => value switch
    {
        long l => l,
        int i => i,
        double d when d == Math.Floor(d) && Math.Abs(d) < 9.2e18 => (long)d,
        string s when long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) => l,
        _ => throw new XenApiProtocolException($"expected an integer, got {Describe(value)}."),
    };

    /// <summary>A floating-point number from a number or a string.</summary>
    public static double ToDouble(object? value) => value switch
    {
        double d => d,
        long l => l,
        int i => i,
        string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        _ => throw new XenApiProtocolException($"expected a number, got {Describe(value)}."),
    };

    /// <summary>A boolean from a boolean or "true"/"false"/"1"/"0".</summary>
    public static bool ToBoolean(object? value) => value switch
    {
        bool b => b,
        "true" or "1" => true,
        "false" or "0" => false,
        _ => throw new XenApiProtocolException($"expected a boolean, got {Describe(value)}."),
    };

    /// <summary>A struct.</summary>
    public static Dictionary<string, object?> ToStruct(object? value) =>
        value as Dictionary<string, object?> ?? throw new XenApiProtocolException($"expected a struct, got {Describe(value)}.");

    /// <summary>An array.</summary>
    public static object?[] ToArray(object? value) =>
        value as object?[] ?? throw new XenApiProtocolException($"expected an array, got {Describe(value)}.");

    /// <summary>An array of strings (refs, set of strings).</summary>
    public static string[] ToStringArray(object? value)
    {
        var items = ToArray(value);
        var result = new string[items.Length];
        for (var i = 0; i < items.Length; i++)
        {
            result[i] = ToText(items[i]);
        }

        return result;
    }

    /// <summary>A XenAPI <c>(string -> string) map</c>.</summary>
    public static Dictionary<string, string> ToStringMap(object? value)
    {
        var source = ToStruct(value);
        var result = new Dictionary<string, string>(source.Count, StringComparer.Ordinal);
        foreach (var (key, item) in source)
        {
            result[key] = ToText(item);
        }

        return result;
    }

    /// <summary>A member of a struct, or a protocol error naming it when it is missing.</summary>
    public static object? Member(Dictionary<string, object?> record, string name) =>
        record.TryGetValue(name, out var value) ? value : throw new XenApiProtocolException($"the record has no field '{name}'.");

    /// <summary>Formats a time as XenAPI does: <c>20240101T12:00:00Z</c>.</summary>
    public static string FormatDateTime(DateTime value) =>
        value.ToUniversalTime().ToString("yyyyMMdd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>Parses XenAPI's time forms (basic or extended, with or without 'Z'; no zone means UTC).</summary>
    public static bool TryParseDateTime(string text, out DateTime value) =>
        DateTime.TryParseExact(text.Trim(), DateTimeFormats, CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out value);

    /// <summary>A short description of a value's type, for error messages.</summary>
    public static string Describe(object? value) => value switch
    {
        null => "nil",
        string => "a string",
        long or int => "an integer",
        bool => "a boolean",
        double => "a double",
        DateTime => "a dateTime",
        byte[] => "base64 data",
        Dictionary<string, object?> => "a struct",
        object?[] => "an array",
        _ => value.GetType().Name,
    };
}
