"""Drives the Hyper-V simulator with Debian's pywinrm (python3-winrm), a WS-Management client the project did not write.

Usage: winrm_check.py ENDPOINT USER PASSWORD VM_NAME
Messages are built with xmltodict, the way pywinrm builds its own, and posted with winrm.protocol.Protocol.send_message
(Basic auth). Prints one JSON object: the VMs enumerated, the RequestStateChange result, the job's final state, the
VM's state afterwards, and whether a wrong password was refused.
"""
import json
import sys
import time
import xml.etree.ElementTree as ET

from winrm.exceptions import InvalidCredentialsError
from winrm.protocol import Protocol

from wsman_messages import SOAP, WSEN, WSMAN, WMI, WQL, envelope
from wsman_messages import enumerate_wql as shared_enumerate


def enumerate_wql(protocol, endpoint, wql):
    return shared_enumerate(lambda message: ET.fromstring(protocol.send_message(message)), endpoint, wql, max_elements="2")


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
