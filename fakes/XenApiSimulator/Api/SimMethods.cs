using Hypervisors.Xen.Wire;
using XenApiSimulator.Model;

namespace XenApiSimulator.Api;

/// <summary>A method's body; it runs under the database lock and gets the parameters after the session.</summary>
internal delegate object? SimHandler(SimArgs args);

/// <summary>A method's body that waits (event.from); it takes the lock itself.</summary>
internal delegate Task<object?> SimAsyncHandler(SimArgs args, CancellationToken cancellationToken);

/// <summary>A registered method.</summary>
/// <param name="Arity">Parameters after the session (or all of them, for methods without one).</param>
/// <param name="TakesSession">Whether the first parameter is a session reference.</param>
/// <param name="Handler">The synchronous body (Async.* variants run it in a task).</param>
/// <param name="AsyncHandler">The waiting body, for the few methods that wait.</param>
internal sealed record SimMethod(int Arity, bool TakesSession, SimHandler? Handler, SimAsyncHandler? AsyncHandler = null);

/// <summary>Returned by a handler when its Async task stays pending (a guest ignoring a clean shutdown).</summary>
internal sealed class SimPending
{
    public static readonly SimPending Instance = new();
}

/// <summary>The method table and the parts every method family shares.</summary>
internal sealed class SimMethodTable
{
    private readonly Dictionary<string, SimMethod> _methods = new(StringComparer.Ordinal);

    public void Add(string name, int arity, SimHandler handler) => _methods[name] = new SimMethod(arity, true, handler);

    public void AddWithoutSession(string name, int arity, SimHandler handler) => _methods[name] = new SimMethod(arity, false, handler);

    public void AddWaiting(string name, int arity, SimAsyncHandler handler) => _methods[name] = new SimMethod(arity, true, null, handler);

    public bool TryGet(string name, out SimMethod method) => _methods.TryGetValue(name, out method!);

    /// <summary>Converts a value off the wire to the type of the field's current value (XenAPI ints arrive as strings).</summary>
    public static object? Coerce(string field, object? value, object? current) => current switch
    {
        long => ToLong(field, value),
        bool => value switch
        {
            bool b => b,
            "true" => true,
            "false" => false,
            _ => throw FieldError(field, value),
        },
        double => value switch
        {
            double d => d,
            long l => (double)l,
            string s when double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d) => d,
            _ => throw FieldError(field, value),
        },
        Dictionary<string, string> => SimArgs.ToMap(value, field),
        string[] => value is object?[] items ? items.Select(i => i as string ?? throw FieldError(field, value)).ToArray() : throw FieldError(field, value),
        DateTime => value is DateTime t ? t : throw FieldError(field, value),
        _ => value as string ?? throw FieldError(field, value),
    };

    /// <summary>Lays the writable fields of a record from the wire over defaults, checking types.</summary>
    public static Dictionary<string, object?> Merge(Dictionary<string, object?> defaults, Dictionary<string, object?> given, IReadOnlyCollection<string> required, IReadOnlySet<string> readOnly)
    {
        foreach (var field in required)
        {
            if (!given.ContainsKey(field))
            {
                throw new XenApiFailureException("FIELD_TYPE_ERROR", [field]);
            }
        }

        foreach (var (field, value) in given)
        {
            if (defaults.TryGetValue(field, out var current) && !readOnly.Contains(field))
            {
                defaults[field] = Coerce(field, value, current);
            }
        }

        return defaults;
    }

    public static long ToLong(string field, object? value)
    {
        try
        {
            return XenValue.ToInt64(value);
        }
        catch (XenApiProtocolException)
        {
            throw FieldError(field, value);
        }
    }

    public static string[] Append(string[] refs, string item) => [.. refs, item];

    public static string[] Without(string[] refs, string item) => refs.Where(r => r != item).ToArray();

    /// <summary>Adds <paramref name="item"/> to the reference set <paramref name="field"/> of <paramref name="owner"/>.</summary>
    public static void Link(SimDatabase db, SimObject owner, string field, string item)
    {
        owner[field] = Append(owner.Refs(field), item);
        db.Modified(owner);
    }

    /// <summary>Removes <paramref name="item"/> from the reference set <paramref name="field"/> of <paramref name="owner"/>, if the owner exists.</summary>
    public static void Unlink(SimDatabase db, string ownerClass, string ownerRef, string field, string item)
    {
        if (db.Exists(ownerClass, ownerRef))
        {
            var owner = db.Get(ownerClass, ownerRef);
            owner[field] = Without(owner.Refs(field), item);
            db.Modified(owner);
        }
    }

    private static XenApiFailureException FieldError(string field, object? value) =>
        new("FIELD_TYPE_ERROR", [$"{field}: unexpected {XenValue.Describe(value)}"]);
}
