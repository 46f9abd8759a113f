"""The Pyodide lanes: pydirectus under Python compiled to WebAssembly, on the browser's fetch.

    python3 tests/pyodide/lanes.py node       # Node 22 + the pinned pyodide npm package
    python3 tests/pyodide/lanes.py browser    # headless Chromium, a page on another origin than Directus
    python3 tests/pyodide/lanes.py all        # both, one Directus

node: Node 22 (the one Directus runs on) with --experimental-wasm-jspi loads Pyodide offline from the
npm package's own files and runs (i) the unit tests that need no socket, thread or subprocess, with
pytest from its pure-Python wheels, against the package imported from a zip, and (ii) the live checks
(tests/pyodide/live_checks.py) against a real Directus with CORS enabled, on the async and the sync
client (Node's fetch).

browser: Debian's chromium, headless, loads a page from a loopback HTTP server on another port than
Directus (another origin); the page loads Pyodide and the zipped package from that server, runs the
live checks on the async and the sync client (Chromium's fetch, JSPI), shows them, and POSTs its report
back. A screenshot of the page (taken over the DevTools protocol) is kept under
$PYDIRECTUS_ARTIFACTS_DIR (else the temp folder); its path is printed.

What is missing is installed into the cache (pydirectus.testing.cache_root()): pyodide@PYODIDE_VERSION
with npm, the pytest wheels with pip, chromium with apt-get. Anything that cannot start fails the lane
(exit status 1), never skips it. Each lane ends with one line:
``pyodide <lane> lane: N passed, M failed (...) in S s``.
"""

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

from pydirectus import testing  # noqa: E402

PYODIDE_VERSION = "314.0.7"
CHROMIUM_VERSION = "150.0.7871.100-1~deb12u1"  # Debian 12's, JSPI on
# pytest and its dependencies on Python 3.14, all pure Python (py3-none-any wheels)
WHEELS = ["pytest==8.3.5", "iniconfig==2.1.0", "pluggy==1.5.0", "packaging==25.0"]
TOKEN_TTL = 3  # seconds: the server's ACCESS_TOKEN_TTL, so that a password session refreshes
DIRECTUS_ENV = {"CORS_ENABLED": "true", "CORS_ORIGIN": "true", "ACCESS_TOKEN_TTL": "%ds" % TOKEN_TTL}

# The unit test modules that run in Pyodide, and the tests of theirs left out, with why. The other
# modules drive fake servers on loopback sockets, threads or subprocesses, which Pyodide has not.
UNIT_MODULES = ["test_bulk", "test_cli", "test_coverage", "test_errors", "test_models", "test_multipart",
                "test_paging", "test_policy", "test_pyodide", "test_query", "test_spec", "test_transport_seam",
                "test_versions", "test_websocket"]
UNIT_LEFT_OUT = {
    "tests/unit/test_paging.py::test_a_page_size_above_the_servers_limit_is_lowered_and_every_item_comes_once":
        "a fake server on a socket",
    "tests/unit/test_paging.py::test_the_next_page_is_asked_for_before_the_caller_reaches_it":
        "requests that overlap (a thread)",
    "tests/unit/test_bulk.py::test_two_chunks_go_at_once_and_the_results_keep_the_entries_order[sync]":
        "requests that overlap (a thread)",
    "tests/unit/test_multipart.py::test_the_module_does_no_io": "reads the module's source file (zipped here)",
    "tests/unit/test_pyodide.py::test_cpython_never_imports_the_browser_room": "a subprocess",
    "tests/unit/test_pyodide.py::test_under_pyodide_the_clients_choose_fetch": "a subprocess (simulates Pyodide)",
}


class LaneError(Exception):
    """Something the lane needs could not be made or started."""


def say(message):
    print("[pyodide lanes] " + message, flush=True)


# ------------------------------------------------------------------ what the lanes need

def node_binary():
    node = os.path.join(testing.cache_root(), "directus-" + testing.DEFAULT_VERSION, "node", "node_modules",
                        testing._node_package(), "bin", "node")
    if not os.path.exists(node):
        raise LaneError("no Node 22 at %s (python3 -m pydirectus.testing install makes it)" % node)
    return node


def ensure_pyodide():
    """The folder of the pinned pyodide npm package, installed into the cache if needed."""
    home = os.path.join(testing.cache_root(), "pyodide-" + PYODIDE_VERSION)
    package = os.path.join(home, "node_modules", "pyodide")
    if not os.path.exists(os.path.join(package, "pyodide.asm.wasm")):
        npm = shutil.which("npm")
        if npm is None:
            raise LaneError("pyodide %s is needed, and there is no npm to install it with" % PYODIDE_VERSION)
        say("installing pyodide %s into %s" % (PYODIDE_VERSION, home))
        os.makedirs(home, exist_ok=True)
        subprocess.run([npm, "install", "--prefix", home, "--no-audit", "--no-fund", "--loglevel=error",
                        "pyodide@" + PYODIDE_VERSION], check=True, stdin=subprocess.DEVNULL)
    return package


def ensure_wheels():
    """The paths of the pytest wheels, downloaded into the cache if needed."""
    folder = os.path.join(testing.cache_root(), "pyodide-wheels")
    names = {spec.split("==")[0]: spec.split("==")[1] for spec in WHEELS}

    def present():
        found = []
        for name, version in names.items():
            wheel = os.path.join(folder, "%s-%s-py3-none-any.whl" % (name, version))
            if os.path.exists(wheel):
                found.append(wheel)
        return found
    if len(present()) < len(names):
        say("downloading %s into %s" % (", ".join(WHEELS), folder))
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--no-deps",
                        "--python-version", "3.14", "--implementation", "py", "-d", folder] + WHEELS,
                       check=True, stdin=subprocess.DEVNULL)
    wheels = present()
    if len(wheels) < len(names):
        raise LaneError("the pytest wheels are missing from %s" % folder)
    return wheels


def build_zip(folder):
    """pydirectus as a zip in ``folder`` (Pyodide imports it from there)."""
    path = os.path.join(folder, "pydirectus.zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for directory, folders, files in os.walk(os.path.join(ROOT, "pydirectus")):
            folders[:] = sorted(name for name in folders if name != "__pycache__")
            for name in sorted(files):
                if not name.endswith(".pyc"):
                    full = os.path.join(directory, name)
                    archive.write(full, os.path.relpath(full, ROOT))
    return path


def directus_settings(server, dead_port, aux_url):
    return {"url": server.url, "token": server.token, "email": server.email, "password": server.password,
            "ttl": TOKEN_TTL, "dead_url": "http://127.0.0.1:%d" % dead_port, "tag": "%x" % int(time.time() * 1000),
            "silent_url": aux_url + "/silent", "plain_url": aux_url + "/plain"}


class AuxHandler(BaseHTTPRequestHandler):
    """/silent...: takes the request and never answers (until the lane ends); anything else: a JSON
    answer without any CORS header, which a page on another origin may not read."""

    def log_message(self, *args):
        pass

    def _answer(self):
        if self.path.startswith("/silent"):
            self.server.stop.wait(60)
            return
        body = b'{"data": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_OPTIONS = _answer


def start_aux_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), AuxHandler)
    server.daemon_threads = True
    server.block_on_close = False
    server.stop = threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def summarize(report_checks):
    passed = sum(1 for check in report_checks if check["ok"])
    return passed, len(report_checks) - passed


# ------------------------------------------------------------------ the node lane

def run_in_node(node, package, script, mounts, config, log_path):
    """Start ``script`` in Pyodide under Node (run_pyodide.mjs); the Popen, its output into log_path."""
    folder = os.path.dirname(log_path)
    config_path = log_path + ".json"
    with open(config_path, "w") as handle:
        json.dump({"pyodide": package, "script": script, "mounts": mounts, "config": config}, handle)
    log = open(log_path, "w")
    return subprocess.Popen([node, "--experimental-wasm-jspi", os.path.join(HERE, "run_pyodide.mjs"), config_path],
                            stdout=log, stderr=subprocess.STDOUT, cwd=folder, stdin=subprocess.DEVNULL)


def node_lane(work, server_settings):
    """(passed, failed, details) of the node lane; server_settings() starts or gives the Directus."""
    started = time.monotonic()
    node = node_binary()
    package = ensure_pyodide()
    wheels = ensure_wheels()
    build_zip(work)
    wheel_folder = os.path.dirname(wheels[0])
    args = ["-q", "-p", "no:cacheprovider", "-p", "no:faulthandler", "-rfE", "--tb=short"]
    args += ["tests/unit/%s.py" % name for name in UNIT_MODULES]
    unit_log = os.path.join(work, "node-unit.log")
    unit = run_in_node(node, package, os.path.join(HERE, "unit_in_pyodide.py"),
                       [[ROOT, "/src"], [work, "/work"], [wheel_folder, "/wheels"]],
                       {"zip": "/work/pydirectus.zip", "src": "/src", "args": args, "left_out": UNIT_LEFT_OUT,
                        "wheels": ["/wheels/" + os.path.basename(wheel) for wheel in wheels]}, unit_log)
    settings = server_settings()
    live_log = os.path.join(work, "node-live.log")
    live = run_in_node(node, package, os.path.join(HERE, "live_in_node.py"), [[HERE, "/lane"], [work, "/work"]],
                       {"zip": "/work/pydirectus.zip", "settings": settings, "report": "/work/node-live.json"},
                       live_log)
    try:
        live_status = live.wait(timeout=150)
        unit_status = unit.wait(timeout=150)
    except subprocess.TimeoutExpired:
        live.kill()
        unit.kill()
        raise LaneError("Pyodide under Node did not finish within 150 s: see %s and %s" % (unit_log, live_log))
    unit_output = open(unit_log).read()
    print(unit_output.rstrip()[-3000:] if unit_status else "\n".join(
        line for line in unit_output.splitlines() if line.startswith(("pyodide ", "pydirectus ", "=", "left out")) or
        " passed" in line))
    print(open(live_log).read().rstrip())
    counts = _pytest_counts(unit_output)
    left_out = sum(int(line.split()[4]) for line in unit_output.splitlines() if line.startswith("left out in Pyodide:"))
    if counts is None:
        raise LaneError("the unit tests in Pyodide gave no summary (status %s): see %s" % (unit_status, unit_log))
    report_path = os.path.join(work, "node-live.json")
    if not os.path.exists(report_path):
        raise LaneError("the live checks under Node wrote no report (status %s): see %s" % (live_status, live_log))
    checks = json.load(open(report_path))["checks"]
    live_passed, live_failed = summarize(checks)
    unit_failed = counts["failed"] + counts["errors"] + (1 if unit_status and not counts["failed"] + counts["errors"]
                                                        else 0)
    passed = counts["passed"] + live_passed
    failed = unit_failed + live_failed + (1 if live_status and not live_failed else 0)
    detail = "unit tests in Pyodide: %d passed, %d failed, %d left out (socket, thread, subprocess); " \
             "live checks: %d passed, %d failed" % (counts["passed"], unit_failed, left_out, live_passed, live_failed)
    return passed, failed, detail, time.monotonic() - started


def _pytest_counts(output):
    import re
    for line in reversed(output.splitlines()):
        if re.search(r" in [\d.]+s", line) and re.search(r"\d+ (passed|failed)", line):
            counts = {"passed": 0, "failed": 0, "errors": 0}
            for number, word in re.findall(r"(\d+) (passed|failed|errors?)", line):
                counts["errors" if word.startswith("error") else word] += int(number)
            return counts
    return None


# ------------------------------------------------------------------ the browser lane

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>pydirectus in Pyodide</title>
<style>body{font:14px sans-serif;margin:16px} td{padding:2px 8px} .ok{color:#070} .no{color:#b00}
pre{white-space:pre-wrap;font-size:11px}</style>
<script src="/pyodide/pyodide.js"></script></head>
<body><h2>pydirectus in Pyodide, against <span id="server"></span></h2>
<p id="status">loading Pyodide...</p><table id="checks"></table>
<script>
const DRIVER = `
import json, sys
sys.path[:0] = ["/tmp/pydirectus.zip", "/tmp/lane"]
import live_checks
settings = json.loads(SETTINGS)
report = live_checks.Report()
await live_checks.check_async(settings, report)
live_checks.check_sync(settings, report)
await live_checks.check_readme(settings, report)
json.dumps({"checks": report.checks})
`;
async function main() {
  const settings = await (await fetch("/settings.json")).json();
  document.getElementById("server").textContent = settings.url;
  const started = performance.now();
  const pyodide = await loadPyodide({indexURL: "/pyodide/"});
  const zip = new Uint8Array(await (await fetch("/pydirectus.zip")).arrayBuffer());
  pyodide.FS.writeFile("/tmp/pydirectus.zip", zip);
  pyodide.FS.mkdirTree("/tmp/lane");
  pyodide.FS.writeFile("/tmp/lane/live_checks.py", await (await fetch("/live_checks.py")).text());
  document.getElementById("status").textContent = "running the checks (Pyodide " + pyodide.version + ")...";
  pyodide.globals.set("SETTINGS", JSON.stringify(settings));
  const report = JSON.parse(await pyodide.runPythonAsync(DRIVER));
  report.pyodide = pyodide.version;
  report.seconds = (performance.now() - started) / 1000;
  report.userAgent = navigator.userAgent;
  return report;
}
function show(report) {
  const table = document.getElementById("checks");
  for (const check of report.checks || []) {
    const row = table.insertRow();
    row.insertCell().textContent = check.ok ? "PASS" : "FAIL";
    row.className = check.ok ? "ok" : "no";
    row.insertCell().textContent = check.client;
    row.insertCell().textContent = check.name;
    row.insertCell().textContent = (check.detail || "").split("\\n")[0].slice(0, 110);
  }
  const passed = (report.checks || []).filter((c) => c.ok).length;
  document.getElementById("status").textContent = report.error ? "failed: " + report.error :
    `${passed} of ${(report.checks || []).length} checks passed in ${report.seconds.toFixed(1)} s (Pyodide ${report.pyodide})`;
}
main().catch((error) => ({checks: [], error: String(error && error.stack || error)})).then(async (report) => {
  show(report);
  await fetch("/report", {method: "POST", body: JSON.stringify(report)});
});
</script></body></html>
"""

MIME = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json",
        ".zip": "application/zip", ".html": "text/html; charset=utf-8", ".py": "text/plain; charset=utf-8",
        ".whl": "application/zip", ".tar": "application/x-tar"}


class PageServer(ThreadingHTTPServer):
    """The page's origin: the page, Pyodide's files, the zipped package, the checks; POST /report."""

    daemon_threads = True

    def __init__(self, package, zip_path, settings):
        self.files = {"/": PAGE.encode(), "/settings.json": json.dumps(settings).encode(),
                      "/pydirectus.zip": zip_path, "/live_checks.py": os.path.join(HERE, "live_checks.py")}
        self.package = package
        self.report = None
        self.reported = threading.Event()
        super().__init__(("127.0.0.1", 0), PageHandler)

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.server_address[1]


class PageHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path.split("?")[0]
        found = self.server.files.get(path)
        if found is None and path.startswith("/pyodide/"):
            candidate = os.path.normpath(os.path.join(self.server.package, path[len("/pyodide/"):]))
            if candidate.startswith(self.server.package + os.sep) and os.path.isfile(candidate):
                found = candidate
        if found is None:
            self.send_error(404)
            return
        body = found if isinstance(found, bytes) else open(found, "rb").read()
        kind = "text/html; charset=utf-8" if path == "/" else MIME.get(os.path.splitext(path)[1],
                                                                         "application/octet-stream")
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length)
        if self.path == "/report":
            self.server.report = json.loads(data.decode("utf-8"))
            self.server.reported.set()
        self.send_response(204)
        self.end_headers()


def readme_snippet():
    """The first Python block of README.md's "In the browser" section."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = text.split("\n## In the browser\n", 1)
    if len(section) < 2 or "```python\n" not in section[1].split("\n## ", 1)[0]:
        raise LaneError("README.md has no Python snippet in an 'In the browser' section")
    return section[1].split("```python\n", 1)[1].split("```", 1)[0]


def chromium_binary():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            raise LaneError("the browser lane needs chromium (Debian 12: apt-get install chromium=%s, as root); %s"
                            % (CHROMIUM_VERSION, "there is no apt-get here" if shutil.which("apt-get") is None
                               else "installing it needs root"))
        say("installing chromium=%s with apt-get" % CHROMIUM_VERSION)
        environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        command = ["apt-get", "install", "-y", "--no-install-recommends", "chromium=" + CHROMIUM_VERSION]
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                                stdin=subprocess.DEVNULL, env=environment)
        if result.returncode != 0:  # a stale package list: once more after an update
            subprocess.run(["apt-get", "update"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL, env=environment)
            result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    universal_newlines=True, stdin=subprocess.DEVNULL, env=environment)
        found = shutil.which("chromium")
        if found is None:
            raise LaneError("chromium is needed and apt-get could not install it:\n" + result.stdout[-2000:])
    return found


def devtools_screenshot(port, page_url, path):
    """A PNG of the tab showing ``page_url``, taken over the DevTools protocol (a WebSocket)."""
    with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=10) as answer:
        targets = json.load(answer)
    target = next((t for t in targets if t.get("type") == "page" and t.get("url", "").startswith(page_url)), None)
    if target is None:
        raise LaneError("no DevTools target for %s among %r" % (page_url, [t.get("url") for t in targets]))
    reply = devtools_call(target["webSocketDebuggerUrl"], "Page.captureScreenshot",
                          {"format": "png", "captureBeyondViewport": True})
    with open(path, "wb") as handle:
        handle.write(base64.b64decode(reply["result"]["data"]))
    return path


def devtools_call(ws_url, method, params):
    """One DevTools command over a minimal WebSocket client (RFC 6455: masked text frames out)."""
    rest = ws_url.split("://", 1)[1]
    netloc, _, path = rest.partition("/")
    host, _, port = netloc.partition(":")
    connection = socket.create_connection((host, int(port)), timeout=30)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        connection.sendall(("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, netloc, key)).encode())
        stream = connection.makefile("rb")
        status = stream.readline()
        if b" 101 " not in status:
            raise LaneError("DevTools refused the WebSocket: %r" % status)
        while stream.readline() not in (b"\r\n", b""):
            pass
        payload = json.dumps({"id": 1, "method": method, "params": params}).encode()
        mask = os.urandom(4)
        head = bytes([0x81])
        if len(payload) < 126:
            head += bytes([0x80 | len(payload)])
        elif len(payload) < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", len(payload))
        connection.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        message = b""
        while True:
            first, second = stream.read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack("!H", stream.read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", stream.read(8))[0]
            data = stream.read(length)
            if first & 0x0F in (0x1, 0x0):
                message += data
                if first & 0x80:
                    reply = json.loads(message.decode("utf-8"))
                    if reply.get("id") == 1:
                        return reply
                    message = b""
    finally:
        connection.close()


def browser_lane(work, server_settings):
    started = time.monotonic()
    chromium = chromium_binary()
    package = ensure_pyodide()
    zip_path = build_zip(work)
    settings = dict(server_settings(), readme_snippet=readme_snippet(), browser=True)
    page = PageServer(package, zip_path, settings)
    threading.Thread(target=page.serve_forever, daemon=True).start()
    profile = tempfile.mkdtemp(prefix="chromium-", dir=work)
    browser_log = os.path.join(work, "chromium.log")
    say("chromium: %s; page %s (another origin than Directus at %s)" % (
        subprocess.run([chromium, "--version"], stdout=subprocess.PIPE, universal_newlines=True).stdout.strip(),
        page.url, settings["url"]))
    browser = subprocess.Popen(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--user-data-dir=" + profile, "--remote-debugging-port=0", "--window-size=1100,900",
         "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
         "--metrics-recording-only", "--no-pings", "--disable-domain-reliability", "--disable-breakpad",
         page.url], stdout=open(browser_log, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    screenshot = None
    try:
        if not page.reported.wait(timeout=150):
            raise LaneError("the page sent no report within 150 s (chromium's output: %s)" % browser_log)
        report = page.report
        artifacts = os.environ.get("PYDIRECTUS_ARTIFACTS_DIR") or tempfile.gettempdir()
        os.makedirs(artifacts, exist_ok=True)
        port_file = os.path.join(profile, "DevToolsActivePort")
        port = int(open(port_file).read().split()[0])
        time.sleep(0.3)  # the page has drawn its table
        screenshot = devtools_screenshot(port, page.url, os.path.join(
            artifacts, "pydirectus-pyodide-browser-%s.png" % time.strftime("%Y%m%d-%H%M%S")))
    finally:
        browser.terminate()
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
        page.shutdown()
    if report.get("error"):
        raise LaneError("the page failed: %s" % report["error"])
    for check in report["checks"]:
        print("%s %s %s%s" % ("PASS" if check["ok"] else "FAIL", check["client"], check["name"],
                              (": " + check["detail"]) if check["detail"] else ""))
    print("user agent: %s; Pyodide %s; checks took %.1f s in the page" % (report.get("userAgent"),
                                                                           report.get("pyodide"), report["seconds"]))
    print("screenshot: %s" % screenshot)
    passed, failed = summarize(report["checks"])
    if not any(check["client"] == "sync" for check in report["checks"]):
        failed += 1  # the sync client must have run
    return passed, failed, "live checks in Chromium (async and sync clients, the README snippet); screenshot %s" \
        % screenshot, \
        time.monotonic() - started


# ------------------------------------------------------------------ main

def main(argv):
    lanes = {"node": [node_lane], "browser": [browser_lane], "all": [node_lane, browser_lane]}
    if len(argv) != 2 or argv[1] not in lanes:
        print("usage: python3 tests/pyodide/lanes.py node|browser|all", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="pydirectus-pyodide-")
    holder = {}
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))  # bound, never listening: connections to it are refused
    dead_port = dead.getsockname()[1]

    def server_settings():
        if "settings" not in holder:
            say("starting Directus %s with %s" % (testing.DEFAULT_VERSION, DIRECTUS_ENV))
            server = holder["server"] = testing.DirectusServer(DIRECTUS_ENV)
            server.__enter__()
            aux = holder["aux"] = start_aux_server()
            holder["settings"] = directus_settings(server, dead_port, "http://127.0.0.1:%d" % aux.server_address[1])
        return holder["settings"]
    status = 0
    try:
        for lane in lanes[argv[1]]:
            name = lane.__name__.split("_")[0]
            try:
                passed, failed, detail, seconds = lane(work, server_settings)
            except Exception as error:  # a lane that cannot start fails loudly
                import traceback
                traceback.print_exc()
                print("pyodide %s lane: FAILED to run: %s" % (name, error))
                status = 1
                continue
            if failed or not passed:
                status = 1
            print("pyodide %s lane: %d passed, %d failed (%s) in %.1f s" % (name, passed, failed, detail, seconds))
    finally:
        if "aux" in holder:
            holder["aux"].stop.set()
            holder["aux"].shutdown()
        if "server" in holder:
            holder["server"].__exit__(None, None, None)
        dead.close()
        if status == 0:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("logs kept in %s" % work)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
