using Hypervisors.Xen.Wire;

namespace XenApiSimulator.Api;

/// <summary>Typed access to a call's parameters; a wrong type is XenAPI's FIELD_TYPE_ERROR.</summary>
internal readonly struct SimArgs(string method, object?[] values)
{
    public string Method { get; } = method;

    public int Count => values.Length;

    public object? this[int index] => values[index];

    public string Text(int index) => values[index] switch
    {
        string s => s,
        var other => throw TypeError(index, "string", other),
    };

    public bool Bool(int index) => values[index] switch
    {
        bool b => b,
        "true" => true,
        "false" => false,
        var other => throw TypeError(index, "bool", other),
    };

    public long Long(int index)
    {
        try
        {
            return XenValue.ToInt64(values[index]);
        }
        catch (XenApiProtocolException)
        {
            throw TypeError(index, "int", values[index]);
        }
    }

    public double Double(int index)
    {
        try
        {
            return XenValue.ToDouble(values[index]);
        }
        catch (XenApiProtocolException)
        {
            throw TypeError(index, "float", values[index]);
        }
    }

    public Dictionary<string, object?> Struct(int index) =>
        values[index] as Dictionary<string, object?> ?? throw TypeError(index, "struct", values[index]);

    public string[] Strings(int index)
    {
        if (values[index] is not object?[] items)
        {
            throw TypeError(index, "array", values[index]);
        }

        var result = new string[items.Length];
        for (var i = 0; i < items.Length; i++)
        {
            result[i] = items[i] as string ?? throw TypeError(index, "array of strings", items[i]);
        }

        return result;
    }

    public Dictionary<string, string> Map(int index) => ToMap(values[index], $"{Method} parameter {index}");

    public static Dictionary<string, string> ToMap(object? value, string what)
    {
        if (value is not Dictionary<string, object?> map)
        {
            throw new XenApiFailureException("FIELD_TYPE_ERROR", [what]);
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, item) in map)
        {
            result[key] = item as string ?? throw new XenApiFailureException("FIELD_TYPE_ERROR", [what + "." + key]);
        }

        return result;
    }

    private XenApiFailureException TypeError(int index, string expected, object? got) =>
        new("FIELD_TYPE_ERROR", [$"{Method} parameter {index}: expected {expected}, got {XenValue.Describe(got)}"]);
}
