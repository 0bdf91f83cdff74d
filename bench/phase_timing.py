"""What the Python references of the driver benchmarks share: timing one phase over P threads, and the JSON line with
the keys the .NET benchmark prints (bench/Hypervisors.Bench/DriverPhases.cs)."""
import concurrent.futures
import json
import time


def phase(fn, items, workers):
    """Runs fn on every item with `workers` threads; returns (elapsed milliseconds, results in order)."""
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(fn, items))
    return (time.perf_counter() - start) * 1000.0, results


def json_line(impl, n, p, t, **extra):
    """The five phase times t (create, power on, list, power off, destroy) as the benchmark's JSON line."""
    return json.dumps({"impl": impl, "n": n, "p": p, "create_ms": round(t[0], 1), "power_on_ms": round(t[1], 1),
                       "list_ms": round(t[2], 1), "power_off_ms": round(t[3], 1), "destroy_ms": round(t[4], 1),
                       "total_ms": round(sum(t), 1), **extra})
