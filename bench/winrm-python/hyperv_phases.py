#!/usr/bin/env python3
"""The reference for the `hyperv` benchmark: the same five phases sent with Debian's pywinrm (python3-winrm), as a
hand-written Python WMI-over-WS-Man script would send them, with only the calls the work needs:

  create     DefineSystem + job poll, ASSOCIATORS OF the new settings (processor and memory InstanceIDs),
             ModifyResourceSettings (1 vCPU, 64 MiB) + job poll                                   5 requests
  power on   RequestStateChange(2) + job poll                                                   2 requests
  list       the four WQL enumerations of the driver's list (VMs, settings, processor, memory)   4 requests
  power off  RequestStateChange(3) + job poll                                                   2 requests
  destroy    DestroySystem + job poll                                                           2 requests

P threads, each with its own winrm.protocol.Protocol (Basic auth). Jobs are first polled after JOB_MS (the job length
the benchmark gave the simulator), then every 5 ms doubling up to 50 ms. The management service's reference is looked
up once, before the timed phases.

usage: HYPERV_PASSWORD=... hyperv_phases.py ENDPOINT USER N P JOB_MS
Prints one JSON line with the keys of the .NET benchmark, and the requests sent per instance.
"""
import concurrent.futures
import json
import os
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET

import xmltodict
from winrm.protocol import Protocol

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSEN = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
WMI = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/"
WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
TRANSFER_GET = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

ENDPOINT, USER, PASSWORD = sys.argv[1], sys.argv[2], os.environ["HYPERV_PASSWORD"]
N, P, JOB_MS = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
local = threading.local()
counter_lock = threading.Lock()
requests_sent = [0]


def protocol():
    if not hasattr(local, "protocol"):
        local.protocol = Protocol(endpoint=ENDPOINT, transport="basic", username=USER, password=PASSWORD,
                                  server_cert_validation="ignore")
    return local.protocol


def send(action, resource_uri, body, selectors=None):
    header = {
        "a:To": ENDPOINT,
        "a:ReplyTo": {"a:Address": {"@mustUnderstand": "true", "#text": ANONYMOUS}},
        "w:MaxEnvelopeSize": {"@mustUnderstand": "true", "#text": "512000"},
        "a:MessageID": "uuid:" + str(uuid.uuid4()).upper(),
        "w:OperationTimeout": "PT60S",
        "w:ResourceURI": {"@mustUnderstand": "true", "#text": resource_uri},
        "a:Action": {"@mustUnderstand": "true", "#text": action},
    }
    if selectors:
        header["w:SelectorSet"] = {"w:Selector": [{"@Name": k, "#text": v} for k, v in selectors.items()]}
    message = xmltodict.unparse({"env:Envelope": {
        "@xmlns:env": SOAP, "@xmlns:a": WSA, "@xmlns:n": WSEN, "@xmlns:w": WSMAN,
        "env:Header": header, "env:Body": body}})
    with counter_lock:
        requests_sent[0] += 1
    return ET.fromstring(protocol().send_message(message)).find("{%s}Body" % SOAP)


def local_name(tag):
    return tag.rsplit("}", 1)[-1]


def items_of(response, namespace):
    items = response.find("{%s}Items" % namespace)
    return list(items) if items is not None else []


def enumerate_wql(wql):
    body = {"n:Enumerate": {"w:OptimizeEnumeration": None, "w:MaxElements": "1000",
                            "w:Filter": {"@Dialect": WQL, "#text": wql}}}
    response = send(WSEN + "/Enumerate", WMI + "*", body).find("{%s}EnumerateResponse" % WSEN)
    items = [{local_name(c.tag): c.text for c in item} | {"__class": local_name(item.tag)}
             for item in items_of(response, WSMAN)]
    context = response.find("{%s}EnumerationContext" % WSEN)
    done = response.find("{%s}EndOfSequence" % WSMAN) is not None
    while not done and context is not None:
        pull = {"n:Pull": {"n:EnumerationContext": context.text, "n:MaxElements": "1000"}}
        response = send(WSEN + "/Pull", WMI + "*", pull).find("{%s}PullResponse" % WSEN)
        items += [{local_name(c.tag): c.text for c in item} | {"__class": local_name(item.tag)}
                  for item in items_of(response, WSEN)]
        context = response.find("{%s}EnumerationContext" % WSEN)
        done = response.find("{%s}EndOfSequence" % WSEN) is not None
    return items


def embedded(class_name, properties):
    """A CIM-XML instance as WMI takes it in an embedded-object parameter, built with ElementTree."""
    instance = ET.Element("INSTANCE", CLASSNAME=class_name)
    for name, cim_type, value in properties:
        prop = ET.SubElement(instance, "PROPERTY", NAME=name, TYPE=cim_type)
        ET.SubElement(prop, "VALUE").text = value
    return ET.tostring(instance, encoding="unicode")


def selectors_of(reference):
    return {s.get("Name"): s.text for s in reference.iter("{%s}Selector" % WSMAN)}


def invoke(class_name, selectors, method, parameters):
    uri = WMI + class_name
    body = {"p:%s_INPUT" % method: {"@xmlns:p": uri, **{"p:" + k: v for k, v in parameters.items()}}}
    output = send(uri + "/" + method, uri, body, selectors).find("{%s}%s_OUTPUT" % (uri, method))
    value = output.find("{%s}ReturnValue" % uri).text
    if value == "4096":
        job = output.find("{%s}Job" % uri)
        wait_for_job(next(job.iter("{%s}ResourceURI" % WSMAN)).text, selectors_of(job))
    elif value != "0":
        raise RuntimeError("%s returned %s" % (method, value))
    return output, uri


def wait_for_job(job_uri, job_selectors):
    delay = JOB_MS / 1000.0
    back_off = 0.005
    while True:
        time.sleep(delay)
        job = send(TRANSFER_GET, job_uri, None, job_selectors)[0]
        state = job.find("{%s}JobState" % job_uri).text
        if state in ("7", "32768"):
            return
        if state in ("8", "9", "10"):
            raise RuntimeError("job failed: %s" % job.find("{%s}ErrorDescription" % job_uri).text)
        delay, back_off = back_off, min(back_off * 2, 0.05)


service = enumerate_wql("SELECT * FROM Msvm_VirtualSystemManagementService")[0]
SERVICE = {k: service[k] for k in ("CreationClassName", "Name", "SystemCreationClassName", "SystemName")}


def create(name):
    settings = embedded("Msvm_VirtualSystemSettingData", [("ElementName", "string", name)])
    output, uri = invoke("Msvm_VirtualSystemManagementService", SERVICE, "DefineSystem", {"SystemSettings": settings})
    vm = selectors_of(output.find("{%s}ResultingSystem" % uri))["Name"]
    resources = enumerate_wql(
        "ASSOCIATORS OF {Msvm_VirtualSystemSettingData.InstanceID=\"Microsoft:%s\"} WHERE AssocClass = "
        "Msvm_VirtualSystemSettingDataComponent ResultClass = CIM_ResourceAllocationSettingData" % vm)
    processor = next(r["InstanceID"] for r in resources if r["__class"] == "Msvm_ProcessorSettingData")
    memory = next(r["InstanceID"] for r in resources if r["__class"] == "Msvm_MemorySettingData")
    invoke("Msvm_VirtualSystemManagementService", SERVICE, "ModifyResourceSettings", {"ResourceSettings": [
        embedded("Msvm_ProcessorSettingData", [("InstanceID", "string", processor), ("VirtualQuantity", "uint64", "1")]),
        embedded("Msvm_MemorySettingData", [("InstanceID", "string", memory), ("VirtualQuantity", "uint64", "64"),
                                            ("Reservation", "uint64", "64"), ("Limit", "uint64", "64"),
                                            ("DynamicMemoryEnabled", "boolean", "false")]),
    ]})
    return vm


def request_state(vm, state):
    invoke("Msvm_ComputerSystem", {"CreationClassName": "Msvm_ComputerSystem", "Name": vm}, "RequestStateChange",
           {"RequestedState": str(state)})


def destroy(vm):
    reference = {"a:Address": ANONYMOUS, "a:ReferenceParameters": {
        "w:ResourceURI": WMI + "Msvm_ComputerSystem",
        "w:SelectorSet": {"w:Selector": [{"@Name": "CreationClassName", "#text": "Msvm_ComputerSystem"},
                                         {"@Name": "Name", "#text": vm}]}}}
    invoke("Msvm_VirtualSystemManagementService", SERVICE, "DestroySystem", {"AffectedSystem": reference})


def phase(fn, items):
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=P) as pool:
        results = list(pool.map(fn, items))
    return (time.perf_counter() - start) * 1000.0, results


def run(prefix, n):
    batch = uuid.uuid4().hex[:8]
    names = ["%s-%s-%d" % (prefix, batch, i) for i in range(n)]
    create_ms, vms = phase(create, names)
    on_ms, _ = phase(lambda vm: request_state(vm, 2), vms)
    start = time.perf_counter()
    systems = enumerate_wql("SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'")
    enumerate_wql("SELECT InstanceID, ElementName, Notes, VirtualSystemIdentifier FROM Msvm_VirtualSystemSettingData "
                  "WHERE VirtualSystemType = 'Microsoft:Hyper-V:System:Realized'")
    processors = enumerate_wql("SELECT InstanceID, VirtualQuantity FROM Msvm_ProcessorSettingData")
    memory = enumerate_wql("SELECT InstanceID, VirtualQuantity FROM Msvm_MemorySettingData")
    list_ms = (time.perf_counter() - start) * 1000.0
    ours = set(vms)
    running = sum(1 for s in systems if s.get("Name") in ours and s.get("EnabledState") == "2")
    sized = sum(1 for p in processors if p["InstanceID"].split("\\")[0][len("Microsoft:"):] in ours and p["VirtualQuantity"] == "1")
    sized += sum(1 for m in memory if m["InstanceID"].split("\\")[0][len("Microsoft:"):] in ours and m["VirtualQuantity"] == "64")
    if running != n or sized != 2 * n:
        raise RuntimeError("listed %d of %d running, %d of %d settings sized" % (running, n, sized, 2 * n))
    off_ms, _ = phase(lambda vm: request_state(vm, 3), vms)
    destroy_ms, _ = phase(destroy, vms)
    return [create_ms, on_ms, list_ms, off_ms, destroy_ms]


run("pywarm", min(N, 16))
requests_sent[0] = 0
t = run("py", N)
print(json.dumps({"impl": "python-winrm", "n": N, "p": P, "create_ms": round(t[0], 1), "power_on_ms": round(t[1], 1),
                  "list_ms": round(t[2], 1), "power_off_ms": round(t[3], 1), "destroy_ms": round(t[4], 1),
                  "total_ms": round(sum(t), 1), "requests_per_instance": round(requests_sent[0] / N, 2)}))
