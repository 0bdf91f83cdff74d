#!/usr/bin/env python3
"""Drives a XenAPI server with Python's standard xmlrpc.client, an XML-RPC implementation independent of the
project's own, and checks the envelopes byte for byte where XenAPI fixes them.

usage: xenapi_wire_check.py URL USER PASSWORD [with-pv-drivers|without-pv-drivers]
The mode says whether the server's guests have PV drivers (default: with). Without them, xapi refuses the clean
operations and hot-plug on a running HVM guest (VM_LACKS_FEATURE, VM_MISSING_PV_DRIVERS).
Prints one line per check and 'ALL CHECKS PASSED' at the end; exits 1 on the first failed check.
"""
import http.client
import sys
import time
import urllib.parse
import xmlrpc.client

URL, USER, PASSWORD = sys.argv[1], sys.argv[2], sys.argv[3]
WITH_DRIVERS = (sys.argv[4] if len(sys.argv) > 4 else "with-pv-drivers") == "with-pv-drivers"
PARTS = urllib.parse.urlparse(URL)
HEAD = b'<?xml version="1.0"?><methodResponse><params><param><value><struct>'
TAIL = b'</struct></value></param></params></methodResponse>'


def check(condition, what):
    if not condition:
        print("FAILED: " + what)
        sys.exit(1)
    print("ok: " + what)


def raw_call(method, *params):
    """POSTs a call encoded by xmlrpc.client and returns the raw response bytes."""
    body = xmlrpc.client.dumps(params, method).encode("utf-8")
    conn = http.client.HTTPConnection(PARTS.hostname, PARTS.port, timeout=30)
    try:
        conn.request("POST", "/RPC2", body, {"Content-Type": "text/xml"})
        response = conn.getresponse()
        check(response.status == 200, "%s answers HTTP 200 (got %d)" % (method, response.status))
        return response.read()
    finally:
        conn.close()


def success_bytes(value_xml):
    return HEAD + b"<member><name>Status</name><value>Success</value></member><member><name>Value</name>" + value_xml + b"</member>" + TAIL


def failure_bytes(*description):
    values = b"".join(b"<value>" + d.encode("utf-8") + b"</value>" for d in description)
    return HEAD + b"<member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value><array><data>" + values + b"</data></array></value></member>" + TAIL


def value(result):
    check(isinstance(result, dict) and result.get("Status") == "Success", "call succeeded: %r" % (result,))
    return result["Value"]


def failure(result, code):
    check(isinstance(result, dict) and result.get("Status") == "Failure", "call failed as expected: %r" % (result,))
    check(result["ErrorDescription"][0] == code, "error code is %s: %r" % (code, result["ErrorDescription"]))
    return result["ErrorDescription"]


# Session: the login envelope, byte for byte.
raw = raw_call("session.login_with_password", USER, PASSWORD, "1.0", "python-wire-check")
(login,), _ = xmlrpc.client.loads(raw)
session = value(login)
check(session.startswith("OpaqueRef:"), "the session is an OpaqueRef")
check(raw == success_bytes(b"<value>" + session.encode() + b"</value>"), "login envelope is byte-exact")

raw = raw_call("session.login_with_password", USER, PASSWORD + "x", "1.0", "python-wire-check")
check(raw == failure_bytes("SESSION_AUTHENTICATION_FAILED", USER, "Authentication failure"), "bad password envelope is byte-exact")

server = xmlrpc.client.ServerProxy(URL)

# Objects every pool has.
hosts = value(server.host.get_all(session))
check(len(hosts) == 1, "one host")
host = value(server.host.get_record(session, hosts[0]))
metrics = value(server.host_metrics.get_record(session, host["metrics"]))
check(int(metrics["memory_total"]) > int(metrics["memory_free"]) > 0, "host_metrics memory_total > memory_free > 0 (ints as strings)")
check(len(host["host_CPUs"]) == int(host["cpu_info"]["cpu_count"]), "host_CPUs match cpu_info.cpu_count")
pool = value(server.pool.get_all(session))[0]
sr = value(server.pool.get_default_SR(session, pool))
check(sr.startswith("OpaqueRef:"), "the pool has a default SR")
templates = [ref for ref, rec in value(server.VM.get_all_records(session)).items() if rec["is_a_template"]]
check(len(templates) >= 1, "there is a template")

# A VM life cycle: clone a template, add a disk and a NIC, then every legal transition.
vm = value(server.VM.clone(session, templates[0], "py-vm"))
value(server.VM.set_is_a_template(session, vm, False))
vdi = value(server.VDI.create(session, {"name_label": "py-disk", "SR": sr, "virtual_size": str(1 << 30), "type": "user",
                                        "sharable": False, "read_only": False, "other_config": {}}))
vbd = value(server.VBD.create(session, {"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": True, "mode": "RW",
                                        "type": "Disk", "empty": False, "other_config": {}, "qos_algorithm_type": "",
                                        "qos_algorithm_params": {}}))
network = value(server.network.get_all(session))[0]
vif = value(server.VIF.create(session, {"device": "0", "network": network, "VM": vm, "MAC": "", "MTU": "1500",
                                        "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}}))
check(len(value(server.VIF.get_MAC(session, vif))) == 17, "an empty MAC is generated")
check(value(server.VM.get_power_state(session, vm)) == "Halted", "a new VM is Halted")

# Raw bytes of a void success and of an illegal transition.
check(raw_call("VM.start", session, vm, False, False) == success_bytes(b"<value></value>"), "VM.start envelope is byte-exact")
check(value(server.VM.get_power_state(session, vm)) == "Running", "start -> Running")
check(value(server.VBD.get_currently_attached(session, vbd)) is True, "the VBD is attached while running")
check(raw_call("VM.start", session, vm, False, False) == failure_bytes("VM_BAD_POWER_STATE", vm, "halted", "running"),
      "starting a running VM is VM_BAD_POWER_STATE [vm, halted, running], byte-exact")

# What the guest reports: VM_metrics from creation, VM_guest_metrics while it runs.
metrics = value(server.VM_metrics.get_record(session, value(server.VM.get_metrics(session, vm))))
check(metrics["current_domain_type"] == "hvm" and metrics["hvm"] is True, "VM_metrics says the running domain is HVM")
guest = value(server.VM_guest_metrics.get_record(session, value(server.VM.get_guest_metrics(session, vm))))
if WITH_DRIVERS:
    check(guest["PV_drivers_detected"] is True and int(guest["PV_drivers_version"]["major"]) >= 0
          and guest["other"].get("feature-suspend") == "1", "a guest with PV drivers reports them and its features")
else:
    check(guest["PV_drivers_detected"] is False and guest["PV_drivers_version"] == {} and guest["other"] == {},
          "a new HVM guest reports no PV drivers and no features")
    for method in ("clean_shutdown", "clean_reboot", "suspend"):
        check(raw_call("VM." + method, session, vm) == failure_bytes("VM_LACKS_FEATURE", vm),
              "VM.%s of a guest without PV drivers is VM_LACKS_FEATURE [vm], byte-exact" % method)
    check(value(server.VM.get_power_state(session, vm)) == "Running", "the refused calls left the VM Running")
    vif2 = value(server.VIF.create(session, {"device": "1", "network": network, "VM": vm, "MAC": "", "MTU": "1500",
                                             "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}}))
    check(raw_call("VIF.plug", session, vif2) == failure_bytes("VM_MISSING_PV_DRIVERS", vm),
          "VIF.plug into a running guest without PV drivers is VM_MISSING_PV_DRIVERS [vm], byte-exact")
    value(server.VIF.destroy(session, vif2))
    # Only the guest reports its drivers: the field is read-only to clients.
    failure(server.VM_guest_metrics.set_PV_drivers_detected(session, value(server.VM.get_guest_metrics(session, vm)), True),
            "MESSAGE_METHOD_UNKNOWN")

for method, state in (("pause", "Paused"), ("unpause", "Running")) + ((("suspend", "Suspended"),) if WITH_DRIVERS else ()):
    value(getattr(server.VM, method)(session, vm))
    check(value(server.VM.get_power_state(session, vm)) == state, method + " -> " + state)
if WITH_DRIVERS:
    check(value(server.VM.get_guest_metrics(session, vm)) == "OpaqueRef:NULL", "a suspended VM has no guest metrics")
    failure(server.VM.unpause(session, vm), "VM_BAD_POWER_STATE")
    value(server.VM.resume(session, vm, False, False))
    check(value(server.VM.get_power_state(session, vm)) == "Running", "resume -> Running")
    value(server.VM.clean_reboot(session, vm))
value(server.VM.hard_reboot(session, vm))
check(value(server.VM.get_power_state(session, vm)) == "Running", "reboots stay Running")

# An Async task, awaited through event.from.
token = value(getattr(server.event, "from")(session, ["task"], "", 0.0))["token"]
task = value(getattr(server, "Async").VM.clean_shutdown(session, vm))
status = "pending"
deadline = time.time() + 20
while status == "pending" and time.time() < deadline:
    batch = value(getattr(server.event, "from")(session, ["task"], token, 5.0))
    token = batch["token"]
    for event in batch["events"]:
        if event["ref"] == task and event["operation"] in ("add", "mod"):
            status = event["snapshot"]["status"]
record = value(server.task.get_record(session, task))
if WITH_DRIVERS:
    check(status == "success", "Async.VM.clean_shutdown finished as success, seen through event.from")
    check(record["progress"] == 1.0 and record["error_info"] == [], "the task record has progress 1.0 and no error")
else:
    check(status == "failure", "Async.VM.clean_shutdown of a guest without PV drivers failed, seen through event.from")
    check(record["error_info"] == ["VM_LACKS_FEATURE", vm], "the task carries VM_LACKS_FEATURE [vm] in error_info")
    value(server.VM.hard_shutdown(session, vm))
value(server.task.destroy(session, task))
failure(server.task.get_record(session, task), "HANDLE_INVALID")
check(value(server.VM.get_power_state(session, vm)) == "Halted", "the VM is Halted")
check(value(server.VM.get_guest_metrics(session, vm)) == "OpaqueRef:NULL", "a halted VM has no guest metrics")

failed = value(getattr(server, "Async").VM.pause(session, vm))
deadline = time.time() + 20
record = value(server.task.get_record(session, failed))
while record["status"] == "pending" and time.time() < deadline:
    time.sleep(0.05)
    record = value(server.task.get_record(session, failed))
check(record["status"] == "failure" and record["error_info"] == ["VM_BAD_POWER_STATE", vm, "running", "halted"],
      "a failed Async task carries the error in error_info")

# VM events with lower-case class names and the VM's snapshot.
vm_token = value(server.event.inject(session, "VM", vm))
value(server.VM.set_name_label(session, vm, "py-vm-renamed"))
batch = value(getattr(server.event, "from")(session, ["vm"], vm_token, 5.0))
check(any(e["class"] == "vm" and e["operation"] == "mod" and e["snapshot"]["name_label"] == "py-vm-renamed" for e in batch["events"]),
      "event.from reports the VM change with its snapshot")

# Errors XenAPI defines.
check(raw_call("VM.no_such_method", session) == failure_bytes("MESSAGE_METHOD_UNKNOWN", "VM.no_such_method"),
      "an unknown method is MESSAGE_METHOD_UNKNOWN, byte-exact")
check(raw_call("VM.start", session, vm) == failure_bytes("MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", "4", "2"),
      "a wrong parameter count is MESSAGE_PARAMETER_COUNT_MISMATCH [method, expected, received], byte-exact")
check(raw_call("VM.get_record", session, "OpaqueRef:nope") == failure_bytes("HANDLE_INVALID", "VM", "OpaqueRef:nope"),
      "a bad reference is HANDLE_INVALID [class, ref], byte-exact")

value(server.VM.destroy(session, vm))
failure(server.VM.get_record(session, vm), "HANDLE_INVALID")
check(value(server.VIF.get_all(session)) == [], "destroying the VM destroyed its VIF")

value(server.session.logout(session))
check(raw_call("VM.get_all", session) == failure_bytes("SESSION_INVALID", session), "a logged-out session is SESSION_INVALID, byte-exact")
print("ALL CHECKS PASSED")
