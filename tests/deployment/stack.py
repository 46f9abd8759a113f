"""A production-like Directus deployment on loopback, for the `deployment` test group (issue 17, part 2).

What ``Stack().start()`` runs, every piece as this process's own child on a free 127.0.0.1 port, with all
its files in one temporary folder that ``stop()`` removes:

    PostgreSQL 15   initdb into the folder (trust auth on loopback, unix socket in the folder); run as
                    the unprivileged user ``nobody`` when we are root (postgres refuses root)
    Redis 7         no persistence; cache, rate limiter, synchronization and the realtime bus of Directus
    Directus x 2    12.4.0 through pydirectus.testing.DirectusServer (database=...): the first one
                    bootstraps the database, the second starts on it as it is; same KEY, SECRET and
                    uploads folder, WEBSOCKETS_ENABLED, the rate limiter in Redis
    nginx 1.22      TLS with a private CA made here with the openssl CLI (``ca_file``), gzip for JSON and
                    text, Directus under ``/cms/`` balanced over both instances, WebSocket upgrade on
                    ``/cms/websocket``, ``proxy_read_timeout`` 30 s (``read_timeout=``)

nginx's locations:

    /cms/           both instances (round robin); a refused or restarting instance is skipped for
                    idempotent requests (proxy_next_upstream), max_fails=1 fail_timeout=2s
    /short/         the same, with proxy_read_timeout ``short_read_timeout`` (5 s): the realtime test
                    idles past it in ~8 s instead of 35 s
    /i1/, /i2/      instance 1 or 2 only (also with the short read timeout): pins a realtime subscriber

The access log (``access_log``, parsed by ``access_entries()``) records per request the bytes sent,
Content-Encoding, gzip ratio, Retry-After and the upstream that answered.

Attributes once started: ``url`` (``https://127.0.0.1:PORT/cms``), ``base`` (``https://127.0.0.1:PORT``),
``ca_file``, ``token`` / ``email`` / ``password`` (the admin), ``servers`` (the two DirectusServer),
``instance_urls`` (their direct http URLs), ``psql(sql)`` (rows of a query against the database),
``restart_instance(i)``.

Running the group
-----------------

    PYDIRECTUS_DEPLOYMENT=1 ~/.cache/pydirectus/venvs/py3.13/bin/python -m pytest -p no:cacheprovider tests/deployment

Without PYDIRECTUS_DEPLOYMENT=1 the folder is ignored at collection (``pytest tests`` never runs it),
unless a path under tests/deployment is named. Nothing is skipped: a missing program or a stack that
cannot start fails the group. The figures the tests measure (compression ratio, rolling-restart counts,
timings) close pytest's output, in a "deployment figures" section. Needs: Directus 12.4.0
installed by pydirectus.testing (it installs itself on first use), and the Debian 12 packages nginx
(1.22.1), redis-server (7.0) and postgresql-15 plus openssl; ``ensure_packages()`` (called by the fixture)
apt-get installs the missing ones when it runs as root, and otherwise fails naming them. Alone:
``python tests/deployment/stack.py`` starts the stack, prints its URLs and waits for Ctrl-C.

Measured on a 2-core machine with Directus already installed: the stack starts in 11-16 s (PostgreSQL and
Redis 1 s, bootstrap and first instance 6-10 s, second instance 3-4 s, nginx and the CA under 1 s), the
whole group runs in 55-75 s (Python 3.13 and 3.8), each restart_instance() takes 3-11 s, stop() under 2 s.
The apt-get install of nginx and redis-server (postgresql-15 was present) took under 30 s. The group
pauses on purpose: ~8 s idle on the realtime socket, ~14 s of rolling-restart traffic, a 6-11 s burst.
"""

import contextlib
import glob
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

try:
    from pydirectus import testing
except ImportError:  # run as a script from the checkout
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    from pydirectus import testing

PG_BIN = "/usr/lib/postgresql/15/bin"
DIRECTUS_VERSION = "12.4.0"
DB_NAME = "directus"
DB_USER = "directus"
DB_PASSWORD = "directus-password"  # trust auth on loopback: a throwaway database

# Debian 12 (bookworm): package -> version prefix to install, and the programs it brings.
PACKAGES = {
    "nginx": ("1.22.1-", ["nginx"]),
    "redis-server": ("5:7.0.", ["redis-server"]),
    "postgresql-15": ("15.", [PG_BIN + "/initdb", PG_BIN + "/postgres", PG_BIN + "/psql"]),
    "openssl": ("", ["openssl"]),
}


class StackError(RuntimeError):
    """A piece of the deployment could not be installed or started; the message says which and why."""


def _say(message: str) -> None:
    print("[deployment] " + message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ packages

def _program(name: str) -> Optional[str]:
    if os.path.isabs(name):
        return name if os.access(name, os.X_OK) else None
    return shutil.which(name) or next((os.path.join(d, name) for d in ("/usr/sbin", "/sbin")
                                       if os.access(os.path.join(d, name), os.X_OK)), None)


def missing_packages() -> List[str]:
    """The packages of PACKAGES whose programs are not there."""
    return [package for package, (_, programs) in PACKAGES.items()
            if not all(_program(program) for program in programs)]


def _apt_version(package: str, prefix: str) -> Optional[str]:
    result = subprocess.run(["apt-cache", "madison", package], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, universal_newlines=True)
    for line in result.stdout.splitlines():
        parts = [part.strip() for part in line.split("|")]
        if len(parts) >= 2 and parts[1].startswith(prefix):
            return parts[1]
    return None


def ensure_packages() -> None:
    """apt-get install what is missing of nginx 1.22.1, redis-server 7.0, postgresql-15 and openssl
    (Debian 12's versions) when we are root and have apt-get; otherwise raise StackError naming it."""
    missing = missing_packages()
    if not missing:
        return
    wanted = ", ".join("%s (%s*)" % (package, PACKAGES[package][0]) if PACKAGES[package][0] else package
                       for package in missing)
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise StackError("the deployment tests need %s, which are missing; %s. On Debian 12, as root: "
                         "apt-get install -y %s" % (
                             wanted, "there is no apt-get here" if shutil.which("apt-get") is None
                             else "installing them needs root", " ".join(missing)))
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    specs = []
    for updated in (False, True):
        if updated:
            subprocess.run(["apt-get", "update"], env=environment, stdout=subprocess.DEVNULL, check=False)
        versions = {package: _apt_version(package, PACKAGES[package][0]) for package in missing}
        if all(versions.values()):
            specs = ["%s=%s" % (package, version) for package, version in versions.items()]
            break
    if not specs:
        raise StackError("apt has no %s (is this Debian 12?)" % wanted)
    _say("installing " + " ".join(specs))
    result = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends"] + specs, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    still = missing_packages()
    if result.returncode != 0 or still:
        raise StackError("apt-get install %s failed (exit %d), still missing %s:\n%s"
                         % (" ".join(specs), result.returncode, still, result.stdout[-3000:]))


# ------------------------------------------------------------------ processes

def _child_setup(user: Optional[Tuple[int, int]]) -> Callable[[], None]:
    """preexec_fn: become `user` (uid, gid) if given, then die with the thread that started us (Linux;
    set after the uid change, which clears it)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
    parent = os.getpid()

    def setup() -> None:
        if user is not None:
            os.setgroups([])
            os.setgid(user[1])
            os.setuid(user[0])
        if libc is not None:
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
            if os.getppid() != parent:
                os._exit(1)
    return setup


class _Process:
    """A child process with its log file; stop() signals it and waits."""

    def __init__(self, name: str, command: List[str], log_path: str, cwd: str,
                 user: Optional[Tuple[int, int]] = None, env: Optional[Dict[str, str]] = None,
                 stop_signal: int = signal.SIGTERM) -> None:
        self.name = name
        self.log_path = log_path
        self.stop_signal = stop_signal
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                            preexec_fn=_child_setup(user))

    def alive(self) -> bool:
        return self.process.poll() is None

    def check(self) -> None:
        if not self.alive():
            raise StackError("%s exited with code %s; log %s:\n%s" % (
                self.name, self.process.returncode, self.log_path, testing._tail(self.log_path)))

    def stop(self, grace: float = 10.0) -> None:
        if self.process.poll() is None:
            for sig, wait in ((self.stop_signal, grace), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, sig)
                try:
                    self.process.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue


def _wait_for(what: str, ready: Callable[[], bool], process: Optional[_Process], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process is not None:
            process.check()
        if ready():
            return
        if time.monotonic() > deadline:
            log = ":\n" + testing._tail(process.log_path) if process else ""
            raise StackError("%s not ready within %ss%s" % (what, timeout, log))
        time.sleep(0.1)


def _redis_pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _run(command: Sequence[str], what: str, **kwargs: Any) -> str:
    result = subprocess.run(list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, **kwargs)
    if result.returncode != 0:
        raise StackError("%s failed (exit %d): %s\n%s" % (what, result.returncode, " ".join(command),
                                                          result.stdout[-3000:]))
    return result.stdout


# ------------------------------------------------------------------ TLS

def make_ca(folder: str) -> Tuple[str, str, str]:
    """A private CA and a server certificate for 127.0.0.1 and localhost signed by it, with the openssl
    CLI. Returns (CA file, server certificate, server key)."""
    def path(name: str) -> str:
        return os.path.join(folder, name)
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
          "-keyout", path("ca.key"), "-out", path("ca.pem"), "-subj", "/CN=pydirectus deployment test CA",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign",
          "-addext", "subjectKeyIdentifier=hash"], "making the CA")
    _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-keyout", path("server.key"),
          "-out", path("server.csr"), "-subj", "/CN=127.0.0.1"], "making the server key")
    with open(path("server.ext"), "w") as handle:
        handle.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n"
                     "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
                     "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n")
    _run(["openssl", "x509", "-req", "-sha256", "-days", "2", "-in", path("server.csr"), "-CA", path("ca.pem"),
          "-CAkey", path("ca.key"), "-CAcreateserial", "-out", path("server.pem"), "-extfile", path("server.ext")],
         "signing the server certificate")
    return path("ca.pem"), path("server.pem"), path("server.key")


# ------------------------------------------------------------------ nginx

LOG_FIELDS = ("msec", "method", "uri", "status", "bytes_sent", "body_bytes_sent", "content_encoding",
              "gzip_ratio", "content_type", "accept_encoding", "range", "retry_after", "upstream",
              "upstream_status", "request_time")
# One field per LOG_FIELDS entry, separated by a tab; "-" for an empty one.
_LOG_FORMAT = "\\t".join(("$msec", "$request_method", "$request_uri", "$status", "$bytes_sent",
                          "$body_bytes_sent", "$sent_http_content_encoding", "$gzip_ratio",
                          "$sent_http_content_type", "$http_accept_encoding", "$http_range", "$sent_http_retry_after",
                          "$upstream_addr", "$upstream_status", "$request_time"))


def nginx_config(folder: str, port: int, backends: Sequence[int], certificate: str, key: str,
                 read_timeout: float, short_read_timeout: float) -> str:
    def inside(name: str) -> str:
        return os.path.join(folder, name)

    def proxied(upstream: str, timeout: float, websocket: bool = False) -> str:
        lines = ["proxy_pass http://%s/%s;" % (upstream, "websocket" if websocket else ""),
                 "proxy_read_timeout %gs;" % timeout, "proxy_send_timeout %gs;" % timeout]
        if websocket:
            lines += ["proxy_set_header Upgrade $http_upgrade;", "proxy_set_header Connection $connection_upgrade;",
                      "proxy_buffering off;"]
        return "\n            ".join(lines)

    servers = "\n        ".join("server 127.0.0.1:%d max_fails=1 fail_timeout=2s;" % backend for backend in backends)
    pinned_upstreams = "\n    ".join("upstream directus_%d { server 127.0.0.1:%d; keepalive 4; }" % (i + 1, backend)
                                     for i, backend in enumerate(backends))
    locations = []
    for prefix, upstream, timeout in [("cms", "directus", read_timeout), ("short", "directus", short_read_timeout)] + [
            ("i%d" % (i + 1), "directus_%d" % (i + 1), short_read_timeout) for i in range(len(backends))]:
        locations.append("""
        location = /%(prefix)s { return 301 /%(prefix)s/; }
        location /%(prefix)s/websocket {
            %(websocket)s
        }
        location /%(prefix)s/ {
            %(rest)s
        }""" % {"prefix": prefix, "websocket": proxied(upstream, timeout, True), "rest": proxied(upstream, timeout)})
    return """# written by tests/deployment/stack.py
worker_processes 2;
daemon off;
pid %(pid)s;
error_log %(error_log)s warn;
events { worker_connections 1024; }
http {
    client_body_temp_path %(temp)s/body;
    proxy_temp_path %(temp)s/proxy;
    fastcgi_temp_path %(temp)s/fastcgi;
    uwsgi_temp_path %(temp)s/uwsgi;
    scgi_temp_path %(temp)s/scgi;
    default_type application/octet-stream;
    log_format deployment '%(log_format)s';
    access_log %(access_log)s deployment;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 65s;
    server_tokens off;

    gzip on;
    gzip_types application/json application/graphql-response+json text/plain text/csv;
    gzip_proxied any;
    gzip_min_length 64;
    gzip_comp_level 5;
    gzip_vary on;

    map $http_upgrade $connection_upgrade { default upgrade; '' ''; }

    upstream directus {
        %(servers)s
        keepalive 16;
    }
    %(pinned)s

    server {
        listen 127.0.0.1:%(port)d ssl;
        server_name 127.0.0.1 localhost;
        ssl_certificate %(certificate)s;
        ssl_certificate_key %(key)s;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:1m;

        client_max_body_size 2g;
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header Connection "";
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_connect_timeout 2s;
        # A refused or resetting instance: the next one, for idempotent requests only (nginx never
        # passes a request with a non-idempotent method on once it was sent: no non_idempotent here).
        proxy_next_upstream error timeout http_502 http_503 http_504;
        proxy_next_upstream_tries 2;
        proxy_next_upstream_timeout 10s;
        # Streaming downloads: buffered in memory at the client's pace, never spooled to a temp file.
        proxy_buffering on;
        proxy_buffers 16 64k;
        proxy_busy_buffers_size 128k;
        proxy_max_temp_file_size 0;
%(locations)s
    }
}
""" % {"pid": inside("nginx.pid"), "error_log": inside("error.log"), "temp": inside("temp"),
       "log_format": _LOG_FORMAT, "access_log": inside("access.log"), "servers": servers, "pinned": pinned_upstreams,
       "port": port, "certificate": certificate, "key": key, "locations": "\n".join(locations)}


# ------------------------------------------------------------------ the stack

FOLDER_PREFIX = "pydirectus-deployment-"


def cleanup_stale_folders() -> List[str]:
    """Remove the stack folders whose starting process is gone (a run killed with SIGKILL: its children
    died with it, by PR_SET_PDEATHSIG, but their files stayed). Returns the folders removed."""
    removed = []
    for folder in glob.glob(os.path.join(tempfile.gettempdir(), FOLDER_PREFIX + "*")):
        try:
            with open(os.path.join(folder, "owner")) as handle:
                pid, started = handle.read().split()
        except (OSError, ValueError):
            try:
                if time.time() - os.path.getmtime(folder) < 60:
                    continue  # being created right now
            except OSError:
                continue  # removed meanwhile
        else:
            if str(testing.process_start_time(int(pid))) == started:
                continue  # its owner is alive
        _kill_holders(folder)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _kill_holders(folder: str) -> None:
    """SIGKILL the processes that hold a file of `folder` open (Linux): what outlived a killed run. nginx's
    workers do: PR_SET_PDEATHSIG took their master down, not them."""
    if not os.path.isdir("/proc/self/fd"):
        return
    prefix = os.path.realpath(folder) + os.sep
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            links = [os.readlink(os.path.join("/proc", pid, "fd", fd)) for fd in os.listdir("/proc/%s/fd" % pid)]
        except OSError:
            continue  # gone, or not ours to look at
        if int(pid) != os.getpid() and any(link.startswith(prefix) for link in links):
            with contextlib.suppress(OSError):
                os.kill(int(pid), signal.SIGKILL)


class Stack:
    """PostgreSQL, Redis, two Directus and nginx on loopback; see the module's docstring."""

    def __init__(self, *, read_timeout: float = 30, short_read_timeout: float = 5,
                 rate_limiter_points: int = 50, rate_limiter_duration: int = 1,
                 env: Optional[Dict[str, str]] = None, version: str = DIRECTUS_VERSION) -> None:
        self.read_timeout = read_timeout
        self.short_read_timeout = short_read_timeout
        self.rate_limiter_points = rate_limiter_points
        self.rate_limiter_duration = rate_limiter_duration
        self.extra_env = dict(env or {})
        self.version = version
        self.folder = ""
        self.servers = []  # type: List[testing.DirectusServer]
        self._processes = []  # type: List[_Process]
        self.timings = {}  # type: Dict[str, float]
        self.token = testing.DEFAULT_TOKEN
        self.email = testing.DEFAULT_EMAIL
        self.password = testing.DEFAULT_PASSWORD
        self.pg_port = self.redis_port = self.nginx_port = 0
        self.ca_file = self.url = self.base = self.access_log = ""

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def instance_urls(self) -> List[str]:
        return [str(server.url) for server in self.servers]

    def _user(self) -> Optional[Tuple[int, int]]:
        """Who runs postgres: ``nobody`` when we are root (postgres refuses root), else ourselves."""
        if os.geteuid() != 0:
            return None
        import pwd
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid

    def _timed(self, name: str, started: float) -> None:
        self.timings[name] = round(time.monotonic() - started, 1)

    def start(self) -> "Stack":
        started = time.monotonic()
        missing = missing_packages()
        if missing:
            raise StackError("missing packages %s: call ensure_packages() (as root) first" % missing)
        cleanup_stale_folders()
        self.folder = tempfile.mkdtemp(prefix=FOLDER_PREFIX)
        os.chmod(self.folder, 0o755)  # postgres (nobody) and nginx's workers reach their subfolders
        with open(os.path.join(self.folder, "owner"), "w") as handle:  # for cleanup_stale_folders()
            handle.write("%d %s\n" % (os.getpid(), testing.process_start_time(os.getpid())))
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise
        self._timed("stack start", started)
        return self

    def _start_all(self) -> None:
        step = time.monotonic()
        installing = testing.install(self.version)  # before anything runs: the first install takes minutes
        del installing
        self._start_postgres()
        self._start_redis()
        self._timed("postgres+redis", step)
        step = time.monotonic()
        self.nginx_port = testing.free_port()
        self.base = "https://127.0.0.1:%d" % self.nginx_port
        self.url = self.base + "/cms"
        uploads = os.path.join(self.folder, "uploads")
        os.makedirs(uploads)
        database = {"DB_CLIENT": "pg", "DB_HOST": "127.0.0.1", "DB_PORT": str(self.pg_port),
                    "DB_DATABASE": DB_NAME, "DB_USER": DB_USER, "DB_PASSWORD": DB_PASSWORD}
        env = {
            "PUBLIC_URL": self.url,
            "STORAGE_LOCAL_ROOT": uploads,
            "REDIS": "redis://127.0.0.1:%d" % self.redis_port,
            "CACHE_ENABLED": "true",
            "CACHE_STORE": "redis",
            "CACHE_AUTO_PURGE": "true",
            "RATE_LIMITER_ENABLED": "true",
            "RATE_LIMITER_STORE": "redis",
            "RATE_LIMITER_POINTS": str(self.rate_limiter_points),
            "RATE_LIMITER_DURATION": str(self.rate_limiter_duration),
            "SYNCHRONIZATION_STORE": "redis",
            "WEBSOCKETS_ENABLED": "true",
            "IP_TRUST_PROXY": "true",
        }
        env.update(self.extra_env)
        first = testing.DirectusServer(env, version=self.version, database=database, die_with_parent=True)
        self.servers.append(first)
        first.start()
        self._timed("directus 1 (bootstrap + start)", step)
        step = time.monotonic()
        second = testing.DirectusServer(env, version=self.version, database=database, bootstrap=False,
                                        die_with_parent=True)
        self.servers.append(second)
        second.start()
        self._timed("directus 2", step)
        step = time.monotonic()
        self._start_nginx()
        self._timed("nginx", step)

    def _start_postgres(self) -> None:
        user = self._user()
        folder = os.path.join(self.folder, "postgres")
        os.makedirs(folder)
        if user is not None:
            os.chown(folder, *user)
        data = os.path.join(folder, "data")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        _run([PG_BIN + "/initdb", "-D", data, "-U", DB_USER, "--auth=trust", "-E", "UTF8", "--locale=C",
              "--no-sync"], "initdb", cwd=folder, env=env, preexec_fn=_child_setup(user))
        self.pg_port = testing.free_port()
        log_path = os.path.join(self.folder, "postgres.log")
        process = _Process("postgres", [PG_BIN + "/postgres", "-D", data, "-p", str(self.pg_port), "-k", folder,
                                        "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                                        "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                                        "-c", "max_connections=200"],
                           log_path, folder, user=user, env=env, stop_signal=signal.SIGINT)
        self._processes.append(process)

        def accepting() -> bool:
            result = subprocess.run([PG_BIN + "/pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.pg_port)])
            return result.returncode == 0
        _wait_for("postgres", accepting, process, 60)
        self.psql("CREATE DATABASE %s" % DB_NAME, database="postgres")

    def psql(self, sql: str, database: str = DB_NAME) -> List[List[str]]:
        """Rows (lists of column strings) of `sql` run by psql against the deployment's database."""
        output = _run([PG_BIN + "/psql", "-X", "-A", "-t", "-q", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                       "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", DB_USER, "-d", database, "-c", sql],
                      "psql", env=dict(os.environ, PGPASSWORD=DB_PASSWORD, PGCONNECT_TIMEOUT="5"))
        return [line.split("\t") for line in output.splitlines() if line]

    def _start_redis(self) -> None:
        folder = os.path.join(self.folder, "redis")
        os.makedirs(folder)
        self.redis_port = testing.free_port()
        config = os.path.join(folder, "redis.conf")
        with open(config, "w") as handle:
            handle.write("bind 127.0.0.1\nport %d\nprotected-mode yes\ndaemonize no\nsave \"\"\nappendonly no\n"
                         "dir %s\nlogfile \"\"\nloglevel warning\n" % (self.redis_port, folder))
        process = _Process("redis", [_program("redis-server") or "redis-server", config],
                           os.path.join(self.folder, "redis.log"), folder)
        self._processes.append(process)
        _wait_for("redis", lambda: _redis_pong(self.redis_port), process, 30)

    def _start_nginx(self) -> None:
        folder = os.path.join(self.folder, "nginx")
        os.makedirs(os.path.join(folder, "temp"))
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(folder, "temp", name))
            os.chmod(os.path.join(folder, "temp", name), 0o777)  # nginx's workers run as nobody under root
        os.chmod(os.path.join(folder, "temp"), 0o755)
        os.chmod(folder, 0o755)
        self.ca_file, certificate, key = make_ca(folder)
        config = os.path.join(folder, "nginx.conf")
        with open(config, "w") as handle:
            handle.write(nginx_config(folder, self.nginx_port, [int(server.port or 0) for server in self.servers],
                                      certificate, key, self.read_timeout, self.short_read_timeout))
        nginx = _program("nginx") or "nginx"
        _run([nginx, "-t", "-q", "-p", folder, "-c", config, "-e", os.path.join(folder, "error.log")], "nginx -t")
        self.access_log = os.path.join(folder, "access.log")
        process = _Process("nginx", [nginx, "-p", folder, "-c", config, "-e", os.path.join(folder, "error.log")],
                           os.path.join(folder, "nginx.out"), folder)
        self._processes.append(process)
        _wait_for("nginx", lambda: self.ping(self.url), process, 30)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def ping(self, url: str) -> bool:
        """True when `url`/server/ping answers pong (through nginx: with the CA)."""
        handlers = [urllib.request.ProxyHandler({})]
        if url.startswith("https:"):
            handlers.append(urllib.request.HTTPSHandler(context=self.ssl_context()))
        try:
            with urllib.request.build_opener(*handlers).open(url + "/server/ping", timeout=3) as response:
                return bool(response.read() == b"pong")
        except Exception:  # noqa: BLE001 - not ready, whatever the reason
            return False

    def restart_instance(self, index: int) -> float:
        """SIGTERM instance `index` (0 or 1), wait until it has exited, start it again on its port, wait
        until it answers /server/ping. Returns the seconds it took."""
        started = time.monotonic()
        self.servers[index].restart()
        return time.monotonic() - started

    def access_entries(self, since: int = 0) -> List[Dict[str, str]]:
        """nginx's access log from byte `since` on, one dict per request (LOG_FIELDS)."""
        entries = []
        with open(self.access_log, "rb") as handle:
            handle.seek(since)
            for line in handle.read().decode("utf-8", "replace").splitlines():
                values = line.split("\t")
                if len(values) == len(LOG_FIELDS):
                    entries.append(dict(zip(LOG_FIELDS, values)))
        return entries

    def access_log_size(self) -> int:
        """Where the access log ends now: pass it to access_entries(since=...) to read what comes after."""
        time.sleep(0.2)  # nginx writes an entry when the request ends; let the last ones land
        return os.path.getsize(self.access_log)

    def access_log_size_now(self) -> int:
        """Where the access log ends now, without waiting for requests still under way to be logged."""
        return os.path.getsize(self.access_log)

    def stop(self) -> None:
        """Stop everything (nginx, the instances, Redis, PostgreSQL) and remove the folder. Idempotent."""
        for process in reversed(self._processes):
            if process.name == "nginx":
                process.stop(grace=5)
        for server in reversed(self.servers):
            with contextlib.suppress(Exception):
                server.stop()
        for process in reversed(self._processes):
            process.stop()
        self._processes = []
        self.servers = []
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = ""


@contextlib.contextmanager
def running_stack(**options: Any) -> Iterator[Stack]:
    stack = Stack(**options)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


if __name__ == "__main__":
    ensure_packages()
    with running_stack() as running:
        print("url      %s\nca_file  %s\ntoken    %s\ninstances %s\nfolder   %s\ntimings  %s" % (
            running.url, running.ca_file, running.token, running.instance_urls, running.folder, running.timings))
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
