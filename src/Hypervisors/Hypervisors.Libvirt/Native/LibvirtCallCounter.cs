using System.Collections.Concurrent;

namespace Hypervisors.Libvirt.Native;

/// <summary>
/// Notes the libvirt functions called on the async flow that started it, until disposed: the seam the round-trip
/// tests count the driver's calls per contract operation through. The flow's counter is an <see cref="AsyncLocal{T}"/>,
/// so it follows the driver's calls onto thread-pool threads and sees nothing of other flows (other drivers, other
/// tests, the event-loop thread); with none started, noting a call is one null check.
/// </summary>
internal sealed class LibvirtCallCounter : IDisposable
{
    private static readonly AsyncLocal<LibvirtCallCounter?> Current = new();

    private readonly ConcurrentQueue<string> _calls = new();
    private readonly LibvirtCallCounter? _outer;

    private LibvirtCallCounter(LibvirtCallCounter? outer) => _outer = outer;

    /// <summary>The functions called since the counter started or was last <see cref="Take"/>n, in call order.</summary>
    public IReadOnlyList<string> Calls => [.. _calls];

    /// <summary>Starts counting the calls of this flow (and the flows it starts).</summary>
    public static LibvirtCallCounter Start()
    {
        var counter = new LibvirtCallCounter(Current.Value);
        Current.Value = counter;
        return counter;
    }

    /// <summary>The calls noted so far, forgetting them, so the next operation is counted from zero.</summary>
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

    /// <summary>Notes <paramref name="function"/> on the flow's counter, if one is started.</summary>
    internal static void Record(string function) => Current.Value?._calls.Enqueue(function);
}
