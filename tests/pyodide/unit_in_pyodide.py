# Run inside Pyodide by tests/pyodide/lanes.py (node lane): the unit tests that need no socket,
# thread or subprocess, with pytest from its pure-Python wheels, against the package imported from
# its zip. CONFIG (a JSON string, set by run_pyodide.mjs): zip, wheels (paths in Pyodide's file
# system), src (the folder holding tests/), args (pytest's). The script's value is pytest's status.
import json
import os
import sys
import zipfile

config = json.loads(CONFIG)  # noqa: F821 - set by run_pyodide.mjs
site = "/tmp/pydirectus-site"
os.makedirs(site, exist_ok=True)
for wheel in config["wheels"]:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
sys.dont_write_bytecode = True
sys.path[:0] = [config["zip"], site, config["src"]]
os.chdir(config["src"])
import pydirectus  # noqa: E402

assert pydirectus.__file__.startswith(config["zip"]), pydirectus.__file__
print("pydirectus %s from %s on Python %s (%s)" % (pydirectus.__version__, config["zip"], sys.version.split()[0],
                                                    sys.platform))
import pytest  # noqa: E402


class LeaveOut:
    """Deselects what Pyodide cannot run, saying why: the tests named in CONFIG's left_out (a test id,
    or its prefix), and the async runs of make_client tests (the async client behind a blocking proxy
    runs on an event loop in a thread)."""

    def __init__(self, left_out):
        self.left_out = left_out
        self.reasons = {}

    def pytest_collection_modifyitems(self, config, items):
        kept, dropped = [], []
        for item in items:
            reason = next((why for test, why in self.left_out.items() if item.nodeid.startswith(test)), None)
            callspec = getattr(item, "callspec", None)
            if reason is None and callspec is not None and callspec.params.get("client_kind") == "async" \
                    and "make_client" in item.fixturenames:
                reason = "the async client behind make_client's blocking proxy (a thread)"
            if reason is None:
                kept.append(item)
            else:
                dropped.append(item)
                self.reasons[reason] = self.reasons.get(reason, 0) + 1
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    def pytest_terminal_summary(self, terminalreporter):
        for reason, count in sorted(self.reasons.items()):
            terminalreporter.write_line("left out in Pyodide: %d test(s): %s" % (count, reason))


int(pytest.main(config["args"], plugins=[LeaveOut(config.get("left_out", {}))]))
