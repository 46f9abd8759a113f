"""The package stands alone: stdlib-only import, vendored under another name, from a zip file."""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.join(ROOT, "pydirectus")

# Run by a fresh interpreter: exercises the engine end to end against a scripted loopback server.
PROBE = r'''
import sys, socket, threading, json
name = sys.argv[1]
module = __import__(name, fromlist=["DirectusClient"])
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen(1)
def serve():
    conn, _ = listener.accept()
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    body = json.dumps({"data": [{"id": 1, "title": "vendored"}]}).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    conn.close()
threading.Thread(target=serve, daemon=True).start()
client = module.DirectusClient(hostname="http://127.0.0.1:%d" % listener.getsockname()[1], static_token="t", proxies={})
items = client.read_items("articles", query={"limit": 10})
assert items[0]["title"] == "vendored" and type(items[0]).__module__.startswith(name), type(items[0]).__module__
assert len(client.operations) > 50
assert client.logger.name == name, client.logger.name  # its records go to the package's own logger
assert "pydirectus" not in sys.modules or name == "pydirectus", "imported the original package"
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("requests", "httpx", "urllib3", "typing_extensions"))
assert not heavy, heavy
print("ok", module.__file__)
'''


def run_probe(path_entry, name, *flags):
    env = {"PYTHONPATH": path_entry, "PATH": os.environ.get("PATH", "")}
    result = subprocess.run([sys.executable] + list(flags) + ["-c", PROBE, name], env=env,
                            cwd=os.path.dirname(path_entry),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert result.returncode == 0, result.stdout
    return result.stdout


def test_isolated_interpreter_without_site_packages():
    # -I ignores PYTHONPATH, so put the checkout on sys.path by hand
    code = "import sys; sys.path.insert(0, %r); exec(compile(%r, 'probe', 'exec'))" % (ROOT, PROBE)
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code, "pydirectus"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert result.returncode == 0, result.stdout


def test_vendored_under_another_name(tmp_path):
    vendor = tmp_path / "myapp" / "_vendor"
    vendor.mkdir(parents=True)
    (tmp_path / "myapp" / "__init__.py").write_text("")
    (vendor / "__init__.py").write_text("")
    shutil.copytree(PACKAGE, str(vendor / "dx"), ignore=shutil.ignore_patterns("__pycache__"))
    assert "ok" in run_probe(str(tmp_path), "myapp._vendor.dx")


def test_imported_from_a_zip_file(tmp_path):
    archive = tmp_path / "vendored.zip"
    with zipfile.ZipFile(str(archive), "w") as zf:
        for folder, _, files in os.walk(PACKAGE):
            if "__pycache__" in folder:
                continue
            for filename in files:
                full = os.path.join(folder, filename)
                zf.write(full, os.path.join("dx", os.path.relpath(full, PACKAGE)))
    output = run_probe(str(archive), "dx")
    assert "vendored.zip" in output


def test_import_pulls_in_no_network_module_and_not_the_test_launcher():
    code = ("import sys; import pydirectus; "
            "bad = [m for m in ('http.client', 'ssl', 'socket', 'pydirectus.testing', 'pydirectus._sync.transport', "
            "'pydirectus._core.websocket') "
            "if m in sys.modules]; print(bad)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.stdout.strip() == "[]", result.stdout


def test_no_runtime_dependencies_declared():
    text = open(os.path.join(ROOT, "pyproject.toml")).read()
    assert "dependencies = []" in text
