"""oslo.messaging's own client calling an oslo.messaging RPC server (threading executor) on the same broker: the
baseline for `Hypervisors.Bench amqp`. Prints one JSON line: sequential round trips (p50/p99 ms) and the calls per
second of N threads calling for a fixed time.

usage: oslo_rpc_bench.py URL CALLS THREADS SECONDS
"""
import json, sys, threading, time, uuid
from oslo_config import cfg
import oslo_messaging as messaging

url, calls, threads, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
cfg.CONF([], project="hypervisors-bench")
topic = "bench-" + uuid.uuid4().hex[:8]


class Endpoint:
    def ping(self, ctxt):
        return {"host": "oslo-server"}


transport = messaging.get_rpc_transport(cfg.CONF, url=url)
server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"), [Endpoint()], executor="threading")
server.start()
client = messaging.get_rpc_client(transport, messaging.Target(topic=topic, server="s1"), timeout=30)
for _ in range(50):
    client.call({}, "ping")

latencies = []
for _ in range(calls):
    started = time.perf_counter()
    client.call({}, "ping")
    latencies.append((time.perf_counter() - started) * 1000)
latencies.sort()

done = [0] * threads
deadline = time.perf_counter() + seconds


def worker(index):
    while time.perf_counter() < deadline:
        client.call({}, "ping")
        done[index] += 1


workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
started = time.perf_counter()
for w in workers:
    w.start()
for w in workers:
    w.join()
elapsed = time.perf_counter() - started

cast_count = calls
started = time.perf_counter()
for _ in range(cast_count):
    client.cast({}, "ping")
cast_elapsed = time.perf_counter() - started

server.stop()
server.wait()
transport.cleanup()
print(json.dumps({
    "p50_ms": latencies[len(latencies) // 2],
    "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
    "calls_per_s": sum(done) / elapsed,
    "casts_per_s": cast_count / cast_elapsed,
}))
