using Hypervisors.Agent.Operations;

namespace Hypervisors.Agent.Tests.Operations;

public sealed class OperationIdsTests
{
    [Fact]
    public void Ids_sort_in_the_order_they_were_made_within_one_millisecond_and_when_the_clock_goes_back()
    {
        var ids = new OperationIds();
        var now = DateTimeOffset.UnixEpoch.AddYears(56);
        var made = Enumerable.Range(0, 5000).Select(i => ids.Next(i == 4000 ? now.AddSeconds(-1) : now)).ToList();

        Assert.Equal(made, made.Order(StringComparer.Ordinal));
        Assert.Equal(made.Count, made.Distinct().Count());
        var guid = Guid.ParseExact(made[0], "N");
        Assert.Equal(7, guid.Version);
        Assert.Equal(0b10, guid.Variant >> 2);
        Assert.StartsWith(now.ToUnixTimeMilliseconds().ToString("x12"), made[0], StringComparison.Ordinal);
    }
}
