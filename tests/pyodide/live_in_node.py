# Run inside Pyodide under Node by tests/pyodide/lanes.py (node lane): the live checks of
# live_checks.py on the async and the sync client, on Node's fetch, against a real Directus.
# CONFIG (a JSON string, set by run_pyodide.mjs): zip, settings, report (where the JSON report goes).
import json
import sys

config = json.loads(CONFIG)  # noqa: F821 - set by run_pyodide.mjs
sys.dont_write_bytecode = True
sys.path[:0] = [config["zip"], "/lane"]
import pydirectus  # noqa: E402

assert pydirectus.__file__.startswith(config["zip"]), pydirectus.__file__
import live_checks  # noqa: E402

report = live_checks.Report()
await live_checks.check_async(config["settings"], report)  # noqa: F704 - top-level await (runPythonAsync)
live_checks.check_sync(config["settings"], report)
with open(config["report"], "w") as handle:
    json.dump({"checks": report.checks}, handle)
passed, failed = report.counts()
print("live checks under Node: %d passed, %d failed" % (passed, failed))
1 if failed else 0
