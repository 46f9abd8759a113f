"""The house's layout holds: the package is three rooms and the public modules, and ``_core``
decides without touching a socket, a file, a thread, a clock or an event loop.

``_core`` is imported in a fresh interpreter where the modules that reach those are missing and
every way of opening or stat-ing a file raises; then its flows are run to completion by a
performer written here, which answers their effects.
"""

import ast
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.join(ROOT, "pydirectus")
PUBLIC = {"__init__", "__main__", "client", "async_client", "models", "errors", "cli", "testing", "demo", "codegen"}
ROOMS = {"_core", "_sync", "_async",
         "_pyodide"}  # fetch instead of sockets under Pyodide (browsers, WebAssembly); imported only there
# what core may import from above it: the public records it decides with, and the version
CORE_MAY_IMPORT = {"errors", "models", "__version__"}


def test_the_folder_listing_shows_the_rooms_and_the_public_modules():
    entries = [name for name in os.listdir(PACKAGE) if name != "__pycache__"]
    modules = {name[:-3] for name in entries if name.endswith(".py")}
    folders = {name for name in entries if os.path.isdir(os.path.join(PACKAGE, name))}
    assert folders == ROOMS
    assert modules == PUBLIC
    for room in ROOMS:
        assert os.path.exists(os.path.join(PACKAGE, room, "__init__.py")), room


def _imports_of(path, package):
    """(the modules a module imports, relative imports resolved within the package)."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:  # from .. import name: each name may be a module
                    found.extend(target + "." + alias.name for alias in node.names)
                else:
                    found.append(target)
            else:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


def test_core_imports_nothing_from_the_rooms_or_the_public_clients():
    core = os.path.join(PACKAGE, "_core")
    wrong = []
    for name in sorted(os.listdir(core)):
        if not name.endswith(".py"):
            continue
        for target in _imports_of(os.path.join(core, name), "pydirectus._core"):
            parts = target.split(".")
            if parts[0] != "pydirectus" or len(parts) < 2 or parts[1] == "_core":
                continue
            if parts[1] not in CORE_MAY_IMPORT:
                wrong.append("%s imports %s" % (name, target))
    assert wrong == []


PURITY_SCRIPT = r'''
import builtins, io, json, os, sys, types

root = sys.argv[1]
spec_data = json.load(open(os.path.join(root, "pydirectus", "endpoints.json"), encoding="utf-8"))
version = [line.split('"')[1] for line in open(os.path.join(root, "pydirectus", "__init__.py"))
           if line.startswith("__version__")][0]
core_modules = sorted(name[:-3] for name in os.listdir(os.path.join(root, "pydirectus", "_core"))
                      if name.endswith(".py") and name != "__init__.py")

# (not _thread: Python 3.8's dataclasses, which the models use, imports it for its reprs)
BLOCKED = ("socket", "_socket", "ssl", "_ssl", "select", "selectors", "threading", "asyncio",
           "time", "subprocess", "concurrent", "concurrent.futures", "multiprocessing", "signal", "logging")
saved = {name: sys.modules.get(name) for name in BLOCKED}  # put back at the end, for the interpreter's exit
for name in BLOCKED:
    sys.modules[name] = None  # importing it raises ImportError

touched = []
def refuse(what):
    def refused(*args, **kwargs):
        touched.append(what)
        raise AssertionError("_core called %s%r" % (what, args[:1]))
    return refused
for owner, names in ((builtins, ["open"]), (io, ["open", "open_code"]),
                     (os, ["open", "stat", "lstat", "fstat", "replace", "rename", "link", "unlink", "remove",
                           "mkdir", "makedirs", "listdir", "scandir", "fdopen"])):
    for name in names:
        setattr(owner, name, refuse("%s.%s" % (owner.__name__, name)))

# the package without its __init__ (which imports the clients and their rooms)
package = types.ModuleType("pydirectus")
package.__path__ = [os.path.join(root, "pydirectus")]
package.__version__ = version
sys.modules["pydirectus"] = package

import importlib
for name in core_modules:
    importlib.import_module("pydirectus._core." + name)

from pydirectus._core import effects, records, spec, bulk, policy, auth, retry
from pydirectus._core.records import Response
operations = {op.name: op for op in spec.load_spec(spec_data)}

class Headers:
    def __init__(self, items): self.items = dict((k.lower(), v) for k, v in items)
    def get(self, name, default=None): return self.items.get(name.lower(), default)

def answer(request):
    body = json.dumps({"data": [{"id": 1, "title": "a"}]}).encode()
    response = Response(200, Headers([("Content-Type", "application/json")]), body)
    response.method, response.url = request.method, request.url
    return response

performed = []
def perform(flow):
    """Run a flow to its end, answering its effects here: no runner, no I/O."""
    value = None
    while True:
        try:
            effect = flow.send(value)
        except StopIteration as stop:
            return stop.value
        performed.append(type(effect).__name__)
        if isinstance(effect, effects.Send):
            value = answer(effect.request)
        elif isinstance(effect, effects.Sleep):
            value = None
        elif isinstance(effect, effects.Authenticate):
            value = perform(effect.flow)
        else:
            raise AssertionError("an effect this test does not answer: %r" % (effect,))

credentials = auth.Credentials("a-token", None, None, None, None, None)
request_policy = policy.RequestPolicy("http://directus.test", credentials, {"Accept": "application/json"},
                         retry.RetryPolicy(2), lambda: 0.0, 60.0)
operation = operations["read_items"]
request = records.build_request("http://directus.test", operation, {"collection": "articles"}, None,
                                {"limit": 1}, request_policy.headers_for(True))
items = perform(request_policy.call_flow(operation, request, None, bulk.BatchLimits(), None))
assert [item["title"] for item in items] == ["a"], items
assert performed == ["Send"], performed

# where requests go (the environment's proxies, as the rooms pass os.environ) and a compressed answer
from pydirectus._core import http11
import zlib
proxies = http11.proxies_from(None, {"HTTPS_PROXY": "http://proxy.test:3128", "no_proxy": "directus.test"})
assert http11.resolve_route("https", "directus.test", proxies)[2] is None
assert http11.resolve_route("https", "other.test", proxies)[2] == ("proxy.test", 3128)
compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip (the gzip module imports time)
decoder = http11.content_decoder(http11.Headers([("Content-Encoding", "gzip")]))
assert decoder.decode_all(compressor.compress(b"x" * 1000) + compressor.flush(), 1000) == b"x" * 1000
assert "urllib.request" not in sys.modules and "http.client" not in sys.modules

assert touched == [], touched
print("pure: %d core modules imported, a call run to its end" % len(core_modules))
for name, module in saved.items():  # as they were, for the interpreter's exit
    if module is None:
        del sys.modules[name]
    else:
        sys.modules[name] = module
'''


def test_core_touches_no_socket_file_thread_clock_or_event_loop():
    result = subprocess.run([sys.executable, "-I", "-c", PURITY_SCRIPT, ROOT], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("pure: "), result.stdout


def _package_sources():
    for folder, _, names in os.walk(PACKAGE):
        for name in names:
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def test_each_hand_written_method_is_written_once_for_both_clients():
    import inspect
    import re

    from pydirectus import DirectusClient
    from pydirectus._core.helpers import helpers_of
    from pydirectus.async_client import AsyncDirectusClient
    sync, asynchronous = helpers_of(DirectusClient), helpers_of(AsyncDirectusClient)
    assert set(sync) == set(asynchronous) and len(sync) >= 19
    texts = [open(path, encoding="utf-8").read() for path in _package_sources()]
    for name, (kind, function) in sync.items():
        assert asynchronous[name] == (kind, function), name  # the very same function
        definitions = sum(len(re.findall(r"^\s*(?:async )?def %s\(" % name, text, re.M)) for text in texts)
        assert definitions == 1, "%s is defined %d times" % (name, definitions)
        assert inspect.signature(getattr(DirectusClient, name)) == inspect.signature(getattr(AsyncDirectusClient, name))
        assert getattr(DirectusClient, name).__doc__ == getattr(AsyncDirectusClient, name).__doc__ == function.__doc__
        assert inspect.iscoroutinefunction(getattr(AsyncDirectusClient, name)) == (kind == "run"), name
    # the constructor too
    assert DirectusClient.__init__ is AsyncDirectusClient.__init__


def test_no_private_name_is_imported_across_modules():
    crossings = []
    for path in _package_sources():
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            if isinstance(node, ast.ImportFrom) and node.level:
                crossings.extend("%s: %s" % (os.path.relpath(path, PACKAGE), alias.name) for alias in node.names
                                 if alias.name.startswith("_") and not alias.name.startswith("__"))
    assert crossings == []
