#!/usr/bin/env python3
"""Drives XenAPI's HTTP import handler (PUT /import_raw_vdi) with Python's standard http.client, and the calls
around it with xmlrpc.client, independently of the project's code; checks the answers xapi gives
(xen-api ocaml/xapi/import_raw_vdi.ml, ocaml/xapi/xapi_http.ml, ocaml/libs/http-lib/http_svr.ml).

usage: xenapi_import_check.py URL USER PASSWORD
Prints one line per check, then 'IMPORTED <vdi-uuid> <length> <sha256>' for the caller to compare with the VDI's
stored bytes, and 'ALL CHECKS PASSED'; exits 1 on the first failed check.
"""
import base64
import hashlib
import http.client
import sys
import time
import urllib.parse
import xmlrpc.client

URL, USER, PASSWORD = sys.argv[1], sys.argv[2], sys.argv[3]
PARTS = urllib.parse.urlparse(URL)
MIB = 1024 * 1024


def check(condition, what):
    if not condition:
        print("FAILED: " + what)
        sys.exit(1)
    print("ok: " + what)


def value(result):
    check(isinstance(result, dict) and result.get("Status") == "Success", "call succeeded: %r" % (result,))
    return result["Value"]


server = xmlrpc.client.ServerProxy(URL)
session = value(server.session.login_with_password(USER, PASSWORD, "1.0", "import-check"))
pool = value(server.pool.get_all(session))[0]
sr = value(server.pool.get_default_SR(session, pool))


def new_vdi(name, size):
    return value(server.VDI.create(session, {
        "name_label": name, "name_description": "", "SR": sr, "virtual_size": str(size), "type": "user",
        "sharable": False, "read_only": False, "other_config": {}, "xenstore_data": {}, "sm_config": {}, "tags": []}))


def new_task():
    return value(server.task.create(session, "import-check", ""))


def task_record(task):
    result = server.task.get_record(session, task)
    if not (isinstance(result, dict) and result.get("Status") == "Success"):
        check(False, "task.get_record succeeded: %r" % (result,))
    return result["Value"]


def finished_task(task):
    deadline = time.time() + 20
    while True:
        record = task_record(task)
        if record["status"] != "pending" or time.time() > deadline:
            return record
        time.sleep(0.05)


def put(query, body, headers=None):
    """PUTs body to /import_raw_vdi?query and returns (status, headers, body)."""
    conn = http.client.HTTPConnection(PARTS.hostname, PARTS.port, timeout=30)
    try:
        conn.request("PUT", "/import_raw_vdi?" + urllib.parse.urlencode(query), body, headers or {})
        response = conn.getresponse()
        return response.status, response, response.read()
    finally:
        conn.close()


data = bytes(range(256)) * 1024  # 256 KiB
vdi = new_vdi("imported", MIB)
vdi_uuid = value(server.VDI.get_uuid(session, vdi))

# The import as xapi's own clients make it (Sm_fs_ops.import_vdi_url): vdi, session_id, task_id.
task = new_task()
status, response, body = put({"session_id": session, "task_id": task, "vdi": vdi, "format": "raw"}, data)
check(status == 200, "a raw import answers 200 (got %d)" % status)
check(response.getheader("task-id") == task, "the 200 names the caller's task in task-id: %r" % response.getheader("task-id"))
check(response.getheader("content-type") == "application/octet-stream", "content-type application/octet-stream")
record = finished_task(task)
check(record["status"] == "success", "the task succeeded: %r" % (record,))
check(vdi in record["result"], "the task's result is the VDI reference: %r" % record["result"])
check(record["progress"] == 1.0, "the task's progress is 1.0")
value(server.task.destroy(session, task))

# The VDI named by uuid, credentials as HTTP Basic, no task: the handler's own task is named and gone after.
other = new_vdi("by-uuid", MIB)
other_uuid = value(server.VDI.get_uuid(session, other))
auth = base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode("utf-8")).decode("ascii")
status, response, _ = put({"vdi": other_uuid}, b"\x01" * 4096, {"Authorization": "Basic " + auth})
check(status == 200, "a VDI named by uuid with Basic credentials answers 200 (got %d)" % status)
own = response.getheader("task-id")
check(own is not None and own.startswith("OpaqueRef:"), "the handler names its own task: %r" % own)
check(own not in value(server.task.get_all(session)), "the handler's own task is gone after the import")

# An invalid session: 401 with xapi's realm, and the caller's task untouched.
task = new_task()
status, response, body = put({"session_id": "OpaqueRef:not-a-session", "task_id": task, "vdi": vdi}, b"\0" * 512)
check(status == 401, "an invalid session answers 401 (got %d)" % status)
check(response.getheader("WWW-Authenticate") == 'Basic realm="VDI.import"', "401 carries xapi's realm: %r" % response.getheader("WWW-Authenticate"))
check(b"HTTP 401 unauthorised" in body, "401 has xapi's HTML body")
status, _, _ = put({"vdi": vdi}, b"\0" * 512)
check(status == 401, "no credentials at all answer 401 (got %d)" % status)
check(task_record(task)["status"] == "pending", "a refused session leaves the task pending")

# A VDI that does not exist: vdi_of_req raises before the handler touches the task: HTTP 500.
status, _, body = put({"session_id": session, "task_id": task, "vdi": "00000000-0000-4000-8000-000000000000"}, b"\0" * 512)
check(status == 500, "an unknown VDI answers 500 (got %d)" % status)
check(b"HTTP 500 internal server error" in body, "500 has xapi's HTML body")
check(task_record(task)["status"] == "pending", "an unknown VDI leaves the task pending")

# Neither a VDI nor an SR: VDI_MISSING in the task, 400.
status, _, _ = put({"session_id": session, "task_id": task}, b"\0" * 512)
check(status == 400, "no VDI and no SR answer 400 (got %d)" % status)
record = task_record(task)
check(record["status"] == "failure" and record["error_info"] == ["VDI_MISSING"], "the task failed with VDI_MISSING: %r" % record["error_info"])
value(server.task.destroy(session, task))

# An unknown format: 404, INTERNAL_ERROR in the task.
task = new_task()
status, _, _ = put({"session_id": session, "task_id": task, "vdi": vdi, "format": "bogus"}, b"\0" * 512)
check(status == 404, "an unknown format answers 404 (got %d)" % status)
record = task_record(task)
check(record["error_info"] == ["INTERNAL_ERROR", "Unknown format bogus"], "the task names the unknown format: %r" % record["error_info"])
value(server.task.destroy(session, task))

# HTTP chunked transfer encoding is refused: 404.
task = new_task()
conn = http.client.HTTPConnection(PARTS.hostname, PARTS.port, timeout=30)
conn.request("PUT", "/import_raw_vdi?" + urllib.parse.urlencode({"session_id": session, "task_id": task, "vdi": vdi}),
             iter([b"\0" * 512]), encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
status = conn.getresponse().status
conn.close()
check(status == 404, "a chunked body answers 404 (got %d)" % status)
record = task_record(task)
check(record["error_info"] == ["INTERNAL_ERROR", "Cannot handle encoding: chunked"], "the task names the encoding: %r" % record["error_info"])
value(server.task.destroy(session, task))

# More bytes than the VDI's virtual size: the write past its end fails the task with VDI_IO_ERROR.
small = new_vdi("small", 64 * 1024)
task = new_task()
status, _, _ = put({"session_id": session, "task_id": task, "vdi": small}, b"\x02" * (64 * 1024 + 512))
check(status == 200, "an oversized body still gets the 200 sent before the body is read (got %d)" % status)
record = finished_task(task)
check(record["status"] == "failure" and record["error_info"] == ["VDI_IO_ERROR", "Device I/O errors"],
      "an oversized body fails the task with VDI_IO_ERROR: %r" % (record["error_info"],))
value(server.task.destroy(session, task))

# A body that ends before its Content-Length (the client goes away): VDI_IO_ERROR.
task = new_task()
conn = http.client.HTTPConnection(PARTS.hostname, PARTS.port, timeout=30)
conn.putrequest("PUT", "/import_raw_vdi?" + urllib.parse.urlencode({"session_id": session, "task_id": task, "vdi": small}))
conn.putheader("Content-Length", "4096")
conn.endheaders()
conn.send(b"\x03" * 1000)
conn.close()
record = finished_task(task)
check(record["status"] == "failure" and record["error_info"] == ["VDI_IO_ERROR", "Device I/O errors"],
      "a truncated body fails the task with VDI_IO_ERROR: %r" % (record["error_info"],))
value(server.task.destroy(session, task))

# A read-only VDI cannot be plugged for writing: the 200 is sent, then the task fails with VDI_READONLY [vdi].
readonly = value(server.VDI.create(session, {
    "name_label": "read-only", "name_description": "", "SR": sr, "virtual_size": str(MIB), "type": "user",
    "sharable": False, "read_only": True, "other_config": {}, "xenstore_data": {}, "sm_config": {}, "tags": []}))
task = new_task()
status, _, _ = put({"session_id": session, "task_id": task, "vdi": readonly}, b"\x04" * 512)
check(status == 200, "a read-only VDI still gets the 200 (got %d)" % status)
record = finished_task(task)
check(record["status"] == "failure" and record["error_info"] == ["VDI_READONLY", readonly], "the task failed with VDI_READONLY: %r" % (record["error_info"],))
value(server.task.destroy(session, task))

value(server.session.logout(session))
print("IMPORTED %s %d %s" % (vdi_uuid, len(data), hashlib.sha256(data).hexdigest()))
print("ALL CHECKS PASSED")
