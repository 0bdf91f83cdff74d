using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using HyperVSimulator.Cim;

namespace HyperVSimulator.Wql;

/// <summary>A parsed WQL query: a SELECT over one class, or ASSOCIATORS OF an object path.</summary>
public abstract record WqlQuery;

/// <summary><c>SELECT props FROM class [WHERE condition]</c>; <see cref="Properties"/> is null for <c>*</c>.</summary>
public sealed record SelectQuery(IReadOnlyList<string>? Properties, string ClassName, WqlCondition? Where) : WqlQuery;

/// <summary><c>ASSOCIATORS OF {path} [WHERE AssocClass = A ResultClass = R]</c>.</summary>
public sealed record AssociatorsQuery(string SourceClass, IReadOnlyDictionary<string, string> SourceKeys, string? AssocClass, string? ResultClass) : WqlQuery;

/// <summary>A WHERE condition.</summary>
public abstract record WqlCondition
{
    public abstract bool Matches(CimObject instance);
}

public sealed record AndCondition(WqlCondition Left, WqlCondition Right) : WqlCondition
{
    public override bool Matches(CimObject instance) => Left.Matches(instance) && Right.Matches(instance);
}

public sealed record OrCondition(WqlCondition Left, WqlCondition Right) : WqlCondition
{
    public override bool Matches(CimObject instance) => Left.Matches(instance) || Right.Matches(instance);
}

public sealed record NotCondition(WqlCondition Inner) : WqlCondition
{
    public override bool Matches(CimObject instance) => !Inner.Matches(instance);
}

/// <summary><c>prop op literal</c> with =, !=, &lt;&gt;, &lt;, &gt;, &lt;=, &gt;=, LIKE, IS [NOT] NULL.</summary>
public sealed record Comparison(string Property, string Operator, string? Literal) : WqlCondition
{
    public override bool Matches(CimObject instance)
    {
        var raw = instance[Property];
        if (Operator is "IS NULL")
        {
            return raw is null;
        }

        if (Operator is "IS NOT NULL")
        {
            return raw is not null;
        }

        var values = raw switch
        {
            null => [],
            List<string> list => list,
            _ => [raw.ToString()!],
        };
        return values.Any(Compare);
    }

    private bool Compare(string value)
    {
        if (Literal is null)
        {
            return false;
        }

        if (Operator == "LIKE")
        {
            return LikeToRegex(Literal).IsMatch(value);
        }

        int order;
        if (decimal.TryParse(value, NumberStyles.Number, CultureInfo.InvariantCulture, out var a) &&
            decimal.TryParse(Literal, NumberStyles.Number, CultureInfo.InvariantCulture, out var b))
        {
            order = a.CompareTo(b);
        }
        else
        {
            order = string.Compare(value, Literal, StringComparison.OrdinalIgnoreCase);
        }

        return Operator switch
        {
            "=" => order == 0,
            "!=" or "<>" => order != 0,
            "<" => order < 0,
            ">" => order > 0,
            "<=" => order <= 0,
            ">=" => order >= 0,
            _ => false,
        };
    }

    private static Regex LikeToRegex(string pattern)
    {
        var regex = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            switch (c)
            {
                case '%':
                    regex.Append(".*");
                    break;
                case '_':
                    regex.Append('.');
                    break;
                case '[':
                    var end = pattern.IndexOf(']', i + 1);
                    if (end < 0)
                    {
                        regex.Append(@"\[");
                        break;
                    }

                    var set = pattern[(i + 1)..end];
                    regex.Append('[').Append(set.StartsWith('^') ? "^" + Regex.Escape(set[1..]) : Regex.Escape(set)).Append(']');
                    i = end;
                    break;
                default:
                    regex.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }

        return new Regex(regex.Append('$').ToString(), RegexOptions.IgnoreCase | RegexOptions.Singleline | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }
}
