"""WS-Management messages for pywinrm's Protocol.send_message, built with xmltodict the way pywinrm builds its own:
the namespaces, the request envelope, and reading the instances of an Enumerate or Pull answer. Shared by the Hyper-V
benchmark's Python reference and the test that drives the Hyper-V simulator with pywinrm."""
import uuid

import xmltodict

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSEN = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
WMI = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/"
WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
TRANSFER_GET = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"


def envelope(endpoint, action, resource_uri, body, selectors=None, max_envelope_size="153600"):
    """One request envelope; body is an xmltodict mapping (or None), selectors a dict of key values."""
    header = {
        "a:To": endpoint,
        "a:ReplyTo": {"a:Address": {"@mustUnderstand": "true", "#text": ANONYMOUS}},
        "w:MaxEnvelopeSize": {"@mustUnderstand": "true", "#text": max_envelope_size},
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
    """An element's name without its namespace."""
    return tag.rsplit("}", 1)[-1]


def instances(items):
    """The instances under an Items element (or None) as dicts of property texts, with their class in "__class"."""
    result = []
    for item in list(items) if items is not None else []:
        props = {local(child.tag): child.text for child in item}
        props["__class"] = local(item.tag)
        result.append(props)
    return result


def enumerate_wql(post, endpoint, wql, max_elements="1000", max_envelope_size="153600"):
    """Enumerates with a WQL filter and pulls to the end; post(envelope text) sends one request and returns the
    answer's parsed root element. Returns (instances, number of pulls)."""
    uri = WMI + "*"
    body = {"n:Enumerate": {"w:OptimizeEnumeration": None, "w:MaxElements": max_elements,
                            "w:Filter": {"@Dialect": WQL, "#text": wql}}}
    root = post(envelope(endpoint, WSEN + "/Enumerate", uri, body, max_envelope_size=max_envelope_size))
    response = root.find("{%s}Body/{%s}EnumerateResponse" % (SOAP, WSEN))
    found = instances(response.find("{%s}Items" % WSMAN))
    context = response.find("{%s}EnumerationContext" % WSEN)
    done = response.find("{%s}EndOfSequence" % WSMAN) is not None
    pulls = 0
    while not done and context is not None:
        pulls += 1
        pull = {"n:Pull": {"n:EnumerationContext": context.text, "n:MaxElements": max_elements}}
        root = post(envelope(endpoint, WSEN + "/Pull", uri, pull, max_envelope_size=max_envelope_size))
        response = root.find("{%s}Body/{%s}PullResponse" % (SOAP, WSEN))
        found += instances(response.find("{%s}Items" % WSEN))
        context = response.find("{%s}EnumerationContext" % WSEN)
        done = response.find("{%s}EndOfSequence" % WSEN) is not None
    return found, pulls
