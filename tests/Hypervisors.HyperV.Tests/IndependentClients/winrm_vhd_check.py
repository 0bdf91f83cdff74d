"""Creates differencing disks on the Hyper-V simulator with Debian's pywinrm (python3-winrm), a WS-Management client
the project did not write, the way Microsoft documents Msvm_ImageManagementService.CreateVirtualHardDisk: one
embedded Msvm_VirtualHardDiskSettingData (Type 4 differencing, Format 3 VHDX, Path, ParentPath), a Job to poll.

Usage: winrm_vhd_check.py ENDPOINT USER PASSWORD PARENT MISSING_PARENT CHILD_OK CHILD_REFUSED
Prints one JSON object: for each create, its ReturnValue, the job's final JobState and ErrorCode, and whether the
child disk exists afterwards (a CIM_DataFile Get in root/cimv2); and the parent's FileSize as the host reports it.
"""
import json
import sys
import time
import xml.etree.ElementTree as ET

from winrm.exceptions import WinRMError, WinRMTransportError
from winrm.protocol import Protocol

from wsman_messages import SOAP, TRANSFER_GET, WMI, WSMAN, envelope
from wsman_messages import enumerate_wql as shared_enumerate

CIMV2 = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/"


def main():
    endpoint, user, password, parent, missing, child_ok, child_refused = sys.argv[1:8]
    protocol = Protocol(endpoint=endpoint, transport="basic", username=user, password=password, server_cert_validation="ignore")

    def post(message):
        return ET.fromstring(protocol.send_message(message))

    service = shared_enumerate(post, endpoint, "SELECT * FROM Msvm_ImageManagementService")[0][0]
    selectors = {k: service[k] for k in ("CreationClassName", "Name", "SystemCreationClassName", "SystemName")}

    def embedded(properties):
        instance = ET.Element("INSTANCE", CLASSNAME="Msvm_VirtualHardDiskSettingData")
        for name, cim_type, value in properties:
            prop = ET.SubElement(instance, "PROPERTY", NAME=name, TYPE=cim_type)
            ET.SubElement(prop, "VALUE").text = value
        return ET.tostring(instance, encoding="unicode")

    def create(path, parent_path):
        uri = WMI + "Msvm_ImageManagementService"
        settings = embedded([("Type", "uint16", "4"), ("Format", "uint16", "3"), ("Path", "string", path), ("ParentPath", "string", parent_path)])
        body = {"p:CreateVirtualHardDisk_INPUT": {"@xmlns:p": uri, "p:VirtualDiskSettingData": settings}}
        root = post(envelope(endpoint, uri + "/CreateVirtualHardDisk", uri, body, selectors))
        output = root.find("{%s}Body/{%s}CreateVirtualHardDisk_OUTPUT" % (SOAP, uri))
        result = {"returnValue": output.find("{%s}ReturnValue" % uri).text}
        job = output.find("{%s}Job" % uri)
        if job is not None:
            job_uri = next(job.iter("{%s}ResourceURI" % WSMAN)).text
            job_selectors = {s.get("Name"): s.text for s in job.iter("{%s}Selector" % WSMAN)}
            for _ in range(200):
                state = post(envelope(endpoint, TRANSFER_GET, job_uri, None, job_selectors)).find("{%s}Body" % SOAP)[0]
                result["jobState"] = state.find("{%s}JobState" % job_uri).text
                result["errorCode"] = state.find("{%s}ErrorCode" % job_uri).text
                if result["jobState"] not in ("2", "3", "4"):
                    break
                time.sleep(0.05)
        result["exists"] = file_size(path) is not None
        return result

    def file_size(path):
        uri = CIMV2 + "CIM_DataFile"
        try:
            body = post(envelope(endpoint, TRANSFER_GET, uri, None, {"Name": path})).find("{%s}Body" % SOAP)[0]
        except (WinRMError, WinRMTransportError) as fault:
            if "DestinationUnreachable" in str(fault):
                return None  # The SOAP fault of a missing instance: no such file.
            raise
        return body.find("{%s}FileSize" % uri).text

    print(json.dumps({
        "ok": create(child_ok, parent),
        "refused": create(child_refused, missing),
        "parentSize": file_size(parent),
    }))


if __name__ == "__main__":
    main()
