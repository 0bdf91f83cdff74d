using System.Collections.Concurrent;

namespace Hypervisors.Counting;

/// <summary>
/// Notes the calls a driver makes to its hypervisor on the async flow that started the counter, until disposed: the
/// seam the round-trip tests count a driver's calls per contract operation through. The flow's counter is an
/// <see cref="AsyncLocal{T}"/>, so it follows the driver onto thread-pool threads and sees nothing of other flows
/// (other drivers, other tests); with none started, noting a call is one null check. Compiled into each driver that
/// counts (a linked source file), so every assembly has its own.
/// </summary>
internal sealed class FlowCallCounter : IDisposable
{
    private static readonly AsyncLocal<FlowCallCounter?> Current = new();

    private readonly ConcurrentQueue<string> _calls = new();
    private readonly FlowCallCounter? _outer;

    private FlowCallCounter(FlowCallCounter? outer) => _outer = outer;

    /// <summary>Starts counting the calls of this flow (and the flows it starts).</summary>
    public static FlowCallCounter Start()
    {
        var counter = new FlowCallCounter(Current.Value);
        Current.Value = counter;
        return counter;
    }

    /// <summary>The calls noted so far, in call order, forgetting them, so the next operation is counted from zero.</summary>
    public IReadOnlyList<string> Take()
    {
        var taken = new List<string>();
        while (_calls.TryDequeue(out var call))
        {
            taken.Add(call);
        }

        return taken;
    }

    /// <summary>Stops counting; the flow's previous counter, if any, counts again.</summary>
    public void Dispose() => Current.Value = _outer;

    /// <summary>Notes <paramref name="call"/> on the flow's counter, if one is started.</summary>
    public static void Record(string call) => Current.Value?._calls.Enqueue(call);
}
