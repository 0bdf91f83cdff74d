#!/usr/bin/env python3
"""The reference for the `xen` benchmark: the same five phases done the way a hand-written Python XenAPI script
does them, with the standard xmlrpc.client and synchronous calls, P threads each with its own connection.

By default it sends the calls the driver's round-trip table lists for the same work, with the same purpose (the
contract's checks): VM.get_by_name_label before VM.create (XenAPI accepts duplicate names), VM.start, one
VM.get_all_records, VM.get_power_state before VM.hard_shutdown (XenAPI would also power off a suspended VM), and
VM.get_record before VM.destroy (the record names the disks to clean up). With --plain it sends only the bare calls
(VM.create, VM.start, VM.get_all_records, VM.hard_shutdown, VM.destroy).

usage: xenapi_phases.py URL USER N P [--plain]   (the password comes from $XEN_PASSWORD)
Prints one JSON line with the keys of the .NET benchmark.
"""
import concurrent.futures
import json
import os
import sys
import threading
import time
import uuid
import xmlrpc.client

URL, USER, N, P = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
PLAIN = "--plain" in sys.argv[5:]
PASSWORD = os.environ["XEN_PASSWORD"]
local = threading.local()


def proxy():
    if not hasattr(local, "server"):
        local.server = xmlrpc.client.ServerProxy(URL)
    return local.server


def call(method, *args):
    target = proxy()
    for part in method.split("."):
        target = getattr(target, part)
    result = target(SESSION, *args)
    if result["Status"] != "Success":
        raise RuntimeError("%s failed: %r" % (method, result["ErrorDescription"]))
    return result["Value"]


login = xmlrpc.client.ServerProxy(URL).session.login_with_password(USER, PASSWORD, "1.0", "python-phases")
SESSION = login["Value"]
MEMORY = str(64 << 20)


def record(name, instance_id):
    return {"name_label": name, "name_description": "", "user_version": "1", "is_a_template": False,
            "affinity": "OpaqueRef:NULL", "memory_static_max": MEMORY, "memory_dynamic_max": MEMORY,
            "memory_dynamic_min": MEMORY, "memory_static_min": MEMORY, "VCPUs_params": {}, "VCPUs_max": "1",
            "VCPUs_at_startup": "1", "actions_after_shutdown": "destroy", "actions_after_reboot": "restart",
            "actions_after_crash": "restart", "PV_bootloader": "", "PV_kernel": "", "PV_ramdisk": "", "PV_args": "",
            "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "BIOS order",
            "HVM_boot_params": {"order": "dc"}, "platform": {}, "PCI_bus": "",
            "other_config": {"instance_id": instance_id}, "recommendations": ""}


def phase(fn, items):
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=P) as pool:
        results = list(pool.map(fn, items))
    return (time.perf_counter() - start) * 1000.0, results


def create(name):
    if not PLAIN:
        for other in call("VM.get_by_name_label", name):
            raise RuntimeError("%s is taken by %s" % (name, other))
    return call("VM.create", record(name, str(uuid.uuid4())))


def power_off(ref):
    if not PLAIN and call("VM.get_power_state", ref) == "Suspended":
        raise RuntimeError("%s is suspended" % ref)
    call("VM.hard_shutdown", ref)


def destroy(ref):
    if not PLAIN:
        vm = call("VM.get_record", ref)
        if vm["power_state"] != "Halted" or vm["VBDs"]:
            raise RuntimeError("%s is not a halted VM without disks" % ref)
    call("VM.destroy", ref)


def run(prefix, n):
    batch = uuid.uuid4().hex[:8]
    names = ["%s-%s-%d" % (prefix, batch, i) for i in range(n)]
    create_ms, refs = phase(create, names)
    on_ms, _ = phase(lambda ref: call("VM.start", ref, False, False), refs)
    start = time.perf_counter()
    records = call("VM.get_all_records")
    list_ms = (time.perf_counter() - start) * 1000.0
    running = sum(1 for ref in refs if records[ref]["power_state"] == "Running")
    if running != n:
        raise RuntimeError("listed %d of %d running" % (running, n))
    off_ms, _ = phase(power_off, refs)
    destroy_ms, _ = phase(destroy, refs)
    return [create_ms, on_ms, list_ms, off_ms, destroy_ms]


run("pywarm", min(N, 16))
t = run("py", N)
print(json.dumps({"impl": "python-xmlrpc.client" + ("-plain" if PLAIN else ""), "n": N, "p": P, "create_ms": round(t[0], 1), "power_on_ms": round(t[1], 1),
                  "list_ms": round(t[2], 1), "power_off_ms": round(t[3], 1), "destroy_ms": round(t[4], 1),
                  "total_ms": round(sum(t), 1)}))
