"""Prints one closing line, 'N passed, N failed, N skipped', summed over the TRX files of a test run."""
import glob
import sys
import xml.etree.ElementTree as ET

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
for path in glob.glob(f"{sys.argv[1]}/**/*.trx", recursive=True):
    root = ET.parse(path).getroot()
    counters = root.find("t:ResultSummary/t:Counters", NS)
    if counters is None:
        continue
    passed += int(counters.get("passed", 0))
    failed += int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0))
    # VSTest leaves skipped tests out of the counters' notExecuted; count their results instead.
    results = root.findall("t:Results/t:UnitTestResult", NS)
    skipped += sum(1 for r in results if r.get("outcome") == "NotExecuted")
print(f"Tests: {passed} passed, {failed} failed, {skipped} skipped")
