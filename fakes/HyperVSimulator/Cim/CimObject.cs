using System.Globalization;

namespace HyperVSimulator.Cim;

/// <summary>A CIM datetime property value, written as <c>&lt;cim:Datetime&gt;</c> over WS-Man.</summary>
public sealed record CimDateTime(DateTimeOffset Value)
{
    public override string ToString() => Value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
}

/// <summary>
/// One CIM instance held by the simulator: a class, its WMI namespace and its properties. A property value is a
/// string, a <see cref="CimDateTime"/>, a <c>List&lt;string&gt;</c> for arrays, or null.
/// </summary>
public sealed class CimObject(string wmiNamespace, string className)
{
    public string Namespace { get; } = wmiNamespace;

    public string ClassName { get; } = className;

    /// <summary>Properties in insertion order (the order they are written in).</summary>
    public List<KeyValuePair<string, object?>> Properties { get; } = [];

    public object? this[string name]
    {
        get => Properties.FirstOrDefault(p => string.Equals(p.Key, name, StringComparison.OrdinalIgnoreCase)).Value;
        set
        {
            var index = Properties.FindIndex(p => string.Equals(p.Key, name, StringComparison.OrdinalIgnoreCase));
            if (index >= 0)
            {
                Properties[index] = new(Properties[index].Key, value);
            }
            else
            {
                Properties.Add(new(name, value));
            }
        }
    }

    public bool Has(string name) => Properties.Exists(p => string.Equals(p.Key, name, StringComparison.OrdinalIgnoreCase));

    public string? GetString(string name) => this[name] switch
    {
        null => null,
        List<string> list => list.FirstOrDefault(),
        var v => v.ToString(),
    };

    public long GetInt64(string name) => long.TryParse(GetString(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0;

    public CimObject Set(string name, object? value)
    {
        this[name] = value switch
        {
            null or string or CimDateTime or List<string> => value,
            bool b => b ? "true" : "false",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString(),
        };
        return this;
    }

    /// <summary>A copy holding only <paramref name="names"/> (WQL projection), or the whole object for <c>*</c>.</summary>
    public CimObject Project(IReadOnlyList<string>? names)
    {
        if (names is null)
        {
            return this;
        }

        var copy = new CimObject(Namespace, ClassName);
        foreach (var property in Properties)
        {
            if (names.Contains(property.Key, StringComparer.OrdinalIgnoreCase))
            {
                copy.Properties.Add(property);
            }
        }

        return copy;
    }
}

/// <summary>Copies objects so callers can write them outside the simulator's lock.</summary>
public static class CimObjectCopy
{
    public static CimObject Clone(this CimObject source)
    {
        var copy = new CimObject(source.Namespace, source.ClassName);
        foreach (var (name, value) in source.Properties)
        {
            copy.Properties.Add(new(name, value is List<string> list ? new List<string>(list) : value));
        }

        return copy;
    }
}
