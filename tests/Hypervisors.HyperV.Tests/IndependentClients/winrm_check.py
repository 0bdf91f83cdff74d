"""Drives the Hyper-V simulator with Debian's pywinrm (python3-winrm), a WS-Management client the project did not write.

Usage: winrm_check.py ENDPOINT USER PASSWORD VM_NAME
Messages are built with xmltodict, the way pywinrm builds its own, and posted with winrm.protocol.Protocol.send_message
(Basic auth). Prints one JSON object: the VMs enumerated, the RequestStateChange result, the job's final state, the
VM's state afterwards, and whether a wrong password was refused.
"""
import json
import sys
import time
import uuid
import xml.etree.ElementTree as ET

import xmltodict
from winrm.exceptions import InvalidCredentialsError
from winrm.protocol import Protocol

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSEN = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
WMI = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/"
WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"


def envelope(endpoint, action, resource_uri, body, selectors=None):
    header = {
        "a:To": endpoint,
        "a:ReplyTo": {"a:Address": {"@mustUnderstand": "true", "#text": ANONYMOUS}},
        "w:MaxEnvelopeSize": {"@mustUnderstand": "true", "#text": "153600"},
        "a:MessageID": "uuid:" + str(uuid.uuid4()).upper(),
        "w:OperationTimeout": "PT60S",
        "w:ResourceURI": {"@mustUnderstand": "true", "#text": resource_uri},
        "a:Action": {"@mustUnderstand": "true", "#text": action},
    }
    if selectors:
        header["w:SelectorSet"] = {"w:Selector": [{"@Name": k, "#text": v} for k, v in selectors.items()]}
    return xmltodict.unparse({"env:Envelope": {
        "@xmlns:env": SOAP, "@xmlns:a": WSA, "@xmlns:n": WSEN, "@xmlns:w": WSMAN,
        "env:Header": header, "env:Body": body}})


def local(tag):
    return tag.rsplit("}", 1)[-1]


def instances(items):
    result = []
    for item in list(items) if items is not None else []:
        props = {}
        for child in item:
            props[local(child.tag)] = child.text
        result.append(props)
    return result


def enumerate_wql(protocol, endpoint, wql):
    uri = WMI + "*"
    body = {"n:Enumerate": {"w:OptimizeEnumeration": None, "w:MaxElements": "2",
                            "w:Filter": {"@Dialect": WQL, "#text": wql}}}
    root = ET.fromstring(protocol.send_message(envelope(endpoint, WSEN.replace("enumeration", "enumeration/Enumerate"), uri, body)))
    response = root.find("{%s}Body/{%s}EnumerateResponse" % (SOAP, WSEN))
    found = instances(response.find("{%s}Items" % WSMAN))
    context = response.find("{%s}EnumerationContext" % WSEN)
    done = response.find("{%s}EndOfSequence" % WSMAN) is not None
    pulls = 0
    while not done and context is not None:
        pulls += 1
        body = {"n:Pull": {"n:EnumerationContext": context.text, "n:MaxElements": "2"}}
        root = ET.fromstring(protocol.send_message(envelope(endpoint, WSEN + "/Pull", uri, body)))
        response = root.find("{%s}Body/{%s}PullResponse" % (SOAP, WSEN))
        found += instances(response.find("{%s}Items" % WSEN))
        context = response.find("{%s}EnumerationContext" % WSEN)
        done = response.find("{%s}EndOfSequence" % WSEN) is not None
    return found, pulls


def main():
    endpoint, user, password, vm_name = sys.argv[1:5]
    protocol = Protocol(endpoint=endpoint, transport="basic", username=user, password=password, server_cert_validation="ignore")
    vms, pulls = enumerate_wql(protocol, endpoint, "SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'")
    target = next(vm for vm in vms if vm.get("ElementName") == vm_name)

    uri = WMI + "Msvm_ComputerSystem"
    body = {"p:RequestStateChange_INPUT": {"@xmlns:p": uri, "p:RequestedState": "2"}}
    root = ET.fromstring(protocol.send_message(envelope(
        endpoint, uri + "/RequestStateChange", uri, body,
        {"CreationClassName": "Msvm_ComputerSystem", "Name": target["Name"]})))
    output = root.find("{%s}Body/{%s}RequestStateChange_OUTPUT" % (SOAP, uri))
    return_value = output.find("{%s}ReturnValue" % uri).text
    job_selectors = {s.get("Name"): s.text for s in output.iter("{%s}Selector" % WSMAN)}
    job_uri = next(output.iter("{%s}ResourceURI" % WSMAN)).text

    job_state = None
    for _ in range(200):
        root = ET.fromstring(protocol.send_message(envelope(
            endpoint, "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get", job_uri, None,
            {"InstanceID": job_selectors["InstanceID"]})))
        job = root.find("{%s}Body" % SOAP)[0]
        job_state = job.find("{%s}JobState" % job_uri).text
        if job_state not in ("2", "3", "4"):
            break
        time.sleep(0.05)

    after, _ = enumerate_wql(protocol, endpoint, "SELECT * FROM Msvm_ComputerSystem WHERE Name = '%s'" % target["Name"])

    refused = False
    try:
        Protocol(endpoint=endpoint, transport="basic", username=user, password=password + "x",
                 server_cert_validation="ignore").send_message(envelope(
                     endpoint, WSEN + "/Enumerate", WMI + "*",
                     {"n:Enumerate": {"w:Filter": {"@Dialect": WQL, "#text": "SELECT * FROM Msvm_ComputerSystem"}}}))
    except InvalidCredentialsError:
        refused = True

    print(json.dumps({
        "vms": sorted(vm.get("ElementName") for vm in vms),
        "pulls": pulls,
        "returnValue": return_value,
        "jobResource": job_uri,
        "jobState": job_state,
        "stateAfter": after[0]["EnabledState"],
        "wrongPasswordRefused": refused,
    }))


if __name__ == "__main__":
    main()
