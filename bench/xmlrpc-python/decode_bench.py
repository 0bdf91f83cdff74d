#!/usr/bin/env python3
"""Times Python's standard xmlrpc.client.loads on one XML-RPC response file, the reference for the xen-codec
benchmark (which times the project's decoder on the same bytes in the same run).

usage: decode_bench.py FILE ITERATIONS
Prints one JSON line: {"impl": "python-xmlrpc.client", "bytes": N, "iterations_ms": [...], "median_ms": M, "vms": V}.
"""
import gc
import json
import statistics
import sys
import time
import xmlrpc.client

path, iterations = sys.argv[1], int(sys.argv[2])
with open(path, "rb") as f:
    data = f.read()

(envelope,), _ = xmlrpc.client.loads(data)  # warm-up, and a check that the bytes decode
vms = len(envelope["Value"])
times = []
for _ in range(iterations):
    gc.collect()
    start = time.perf_counter()
    xmlrpc.client.loads(data)
    times.append((time.perf_counter() - start) * 1000.0)

print(json.dumps({"impl": "python-xmlrpc.client", "python": sys.version.split()[0], "bytes": len(data), "vms": vms,
                  "iterations_ms": [round(t, 1) for t in times], "median_ms": round(statistics.median(times), 1)}))
