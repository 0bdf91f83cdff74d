#!/usr/bin/env python3
"""The reference for the `xen` benchmark: the same five phases done the way a hand-written Python XenAPI script
does them, with the standard xmlrpc.client and synchronous calls (VM.create, VM.start, one VM.get_all_records,
VM.hard_shutdown, VM.destroy), P threads each with its own connection.

usage: xenapi_phases.py URL USER PASSWORD N P
Prints one JSON line with the keys of the .NET benchmark.
"""
import os
import sys
import threading
import time
import uuid
import xmlrpc.client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import phase_timing  # noqa: E402  (bench/phase_timing.py)

URL, USER, PASSWORD, N, P = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
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
    return phase_timing.phase(fn, items, P)


def run(prefix, n):
    batch = uuid.uuid4().hex[:8]
    names = ["%s-%s-%d" % (prefix, batch, i) for i in range(n)]
    create_ms, refs = phase(lambda name: call("VM.create", record(name, str(uuid.uuid4()))), names)
    on_ms, _ = phase(lambda ref: call("VM.start", ref, False, False), refs)
    start = time.perf_counter()
    records = call("VM.get_all_records")
    list_ms = (time.perf_counter() - start) * 1000.0
    running = sum(1 for ref in refs if records[ref]["power_state"] == "Running")
    if running != n:
        raise RuntimeError("listed %d of %d running" % (running, n))
    off_ms, _ = phase(lambda ref: call("VM.hard_shutdown", ref), refs)
    destroy_ms, _ = phase(lambda ref: call("VM.destroy", ref), refs)
    return [create_ms, on_ms, list_ms, off_ms, destroy_ms]


run("pywarm", min(N, 16))
t = run("py", N)
print(phase_timing.json_line("python-xmlrpc.client", N, P, t))
