using System.Globalization;

namespace Hypervisors.Agent.Api;

/// <summary>Parses the API's durations: <c>30s</c>, <c>500ms</c>, <c>2m</c>, <c>1h</c>, or a bare number of seconds.</summary>
internal static class Durations
{
    public static TimeSpan? Parse(string? text, string field, TimeSpan max)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        var (digits, unit) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], 0.001)
            : text.EndsWith('s') ? (text[..^1], 1.0)
            : text.EndsWith('m') ? (text[..^1], 60.0)
            : text.EndsWith('h') ? (text[..^1], 3600.0)
            : (text, 1.0);
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var amount) || amount > 1_000_000_000)
        {
            throw new InvalidSpecException(field, $"'{text}' is not a duration such as 30s, 500ms, 2m or 1h.");
        }

        var value = TimeSpan.FromSeconds(amount * unit);
        if (value > max)
        {
            throw new InvalidSpecException(field, $"must be at most {max.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s.");
        }

        return value;
    }
}
