#!/usr/bin/env python3
"""pydirectus on a real network: a shaped link, nginx with gzip, Directus; requests and httpx beside it.

    python3 tests/benchmarks/network.py [--rtt-ms 20] [--mbit 50] [--items 20000] [--create 2000]
                                        [--runs 3] [--baseline-ref 76fccf4] [--now-ref REV] [--shared-link] [--async-client]
                                        [--out network-results.md] [--json] [--json-file all-runs.json]

The rig, all on 127.0.0.1:  client -> link shaper -> nginx -> Directus 12.4.0

- the link shaper (linkshaper.py beside this file) adds RTT/2 each way and limits each direction of
  each connection to --mbit (--shared-link: one line per direction for all connections together);
  it is checked first (round trip, rate each way, a 1 MB download), and the run stops when it is off
  by more than 20 %;
- nginx (the system's, own config and port in a temp folder): ``gzip on; gzip_types
  application/json; gzip_proxied any; gzip_min_length 256;``, HTTP/1.1 keep-alive to the upstream;
- Directus 12.4.0 (pydirectus.testing, SQLite) with QUERY_LIMIT_MAX=2000 (--query-limit-max; Directus'
  own default is unlimited: a deployment that serves the public caps it), MAX_PAYLOAD_SIZE and
  MAX_BATCH_MUTATION at their defaults (1 MB, unlimited), a collection ``articles`` of --items items
  of about 1 KB of prose each, seeded directly on loopback in POSTs of 500.

The work, each client the obvious way with its default settings:

- iterate every item: pydirectus ``iter_items("articles")``; requests and httpx pages of 100 by
  offset (``GET /items/articles?limit=100&offset=N`` on one Session/Client, JSON decoded) until an
  empty page;
- create --create items: pydirectus ``create_items("articles", items)``; the peers POSTs of 100
  items; what was created is deleted after each run (on loopback, not timed).

Each measurement is a fresh subprocess of the same interpreter (the bench venv of run.py, which has
requests and httpx), timed from making the client to the last item; the items to create are made
before the clock starts. pydirectus runs twice: as it is at --baseline-ref (``git archive`` of
pydirectus/ into a temp folder, on PYTHONPATH) and as the checkout has it. The floor is the peers'
work done by a plain http.client loop directly against Directus on loopback (no shaper, no nginx):
the server's own time. Medians of --runs runs, the clients in a rotating order. The shaper counts
the bytes each way, the connections and how late it sent segments (a busy machine delays its
threads; the shaper is checked again after the runs); nginx's access log the requests, the page
sizes asked for and the connections they came on. ``--now-ref`` measures a revision instead of the
working tree (which may hold uncommitted work: the table says so). ``--json`` ends with one JSON
line (table, medians) as run.py's other benchmarks do. The default run takes about 3.5 minutes.
Not part of the test suite.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLIENTS = ("baseline", "now", "requests", "httpx", "floor")
TITLES = {"baseline": "pydirectus (baseline %s)", "now": "pydirectus (now)", "requests": "requests",
          "httpx": "httpx", "floor": "loopback floor"}
PEER_PAGE = 100
SEED_BATCH = 500

# ------------------------------------------------------------------------------------------------
# The items: about 1 KB of prose each, the same every run (a fixed seed).

_WORDS = ("the of and to in is was that for on with as by at from this which be are an it or have not "
          "had his her they but their one all were we when there can more been if has would will who so "
          "no other its into only time new some could these two may first then do any like my now over "
          "such our man me even most made after also did many before must through back years where much "
          "your way well down should because each just those people how too little state good very make "
          "world still own see men work long get here between both life being under never day same "
          "another know while last might us great old year off come since against go came right used "
          "take three states himself few house use during without again place american around however "
          "home small found thought went say part once general high upon school every does got united "
          "left number course war until always away something fact though water less public put think "
          "almost hand enough far took head yet government system better set told nothing night end why "
          "called didn eyes find going look asked later knew point next program city business give group "
          "toward young days let room president side social given present several order national "
          "possible rather second face per among form important often things looked early white case "
          "large become need big four within felt along children saw best church ever least power "
          "development light thing seemed family interest want members mind country area others done "
          "turned although open problem kind began matter moment river garden window letter morning "
          "evening harbour mountain village station market library quietly slowly suddenly").split()


def make_items(count, seed, prefix="Article"):
    rng = random.Random(seed)
    items = []
    for number in range(count):
        sentences, size = [], 0
        while size < 900:
            words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 18))]
            sentence = " ".join(words).capitalize() + rng.choice((".", ".", ".", "?", "!"))
            sentences.append(sentence)
            size += len(sentence) + 1
        items.append({"title": "%s %d: %s" % (prefix, number, " ".join(rng.choice(_WORDS) for _ in range(4))),
                      "author": rng.choice(("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald")),
                      "views": rng.randint(0, 100000), "body": " ".join(sentences)})
    return items


# ------------------------------------------------------------------------------------------------
# The worker: one client doing one piece of work, in its own process; prints one JSON line.

def _chunks(items, size):
    return [items[i:i + size] for i in range(0, len(items), size)]


def work_pydirectus(task, url, token, count):
    import pydirectus
    from pydirectus import DirectusClient
    items = make_items(count, 2, "New") if task == "create" else None
    started, cpu = time.perf_counter(), time.process_time()
    if os.environ.get("PYDIRECTUS_BENCH_ASYNC"):  # --async-client: the same work on AsyncDirectusClient
        import asyncio
        from pydirectus.async_client import AsyncDirectusClient

        async def work():
            async with AsyncDirectusClient(hostname=url, static_token=token) as client:
                if task == "iterate":
                    return sum([1 async for _ in client.iter_items("articles")])
                return len(await client.create_items("articles", items))
        done = asyncio.run(work())
    else:
        client = DirectusClient(hostname=url, static_token=token)
        if task == "iterate":
            done = sum(1 for _ in client.iter_items("articles"))
        else:
            done = len(client.create_items("articles", items))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu": cpu, "done": done, "module": os.path.dirname(pydirectus.__file__)}


def work_requests(task, url, token, count):
    import requests
    items = make_items(count, 2, "New") if task == "create" else None
    started, cpu = time.perf_counter(), time.process_time()
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + token
    done = 0
    if task == "iterate":
        offset = 0
        while True:
            response = session.get(url + "/items/articles", params={"limit": PEER_PAGE, "offset": offset})
            response.raise_for_status()
            page = response.json()["data"]
            if not page:
                break
            done += len(page)
            offset += PEER_PAGE
    else:
        for chunk in _chunks(items, PEER_PAGE):
            response = session.post(url + "/items/articles", json=chunk)
            response.raise_for_status()
            done += len(response.json()["data"])
    session.close()
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu, "done": done,
            "module": requests.__version__}


def work_httpx(task, url, token, count):
    import httpx
    items = make_items(count, 2, "New") if task == "create" else None
    started, cpu = time.perf_counter(), time.process_time()
    done = 0
    with httpx.Client(headers={"Authorization": "Bearer " + token}) as client:
        if task == "iterate":
            offset = 0
            while True:
                response = client.get(url + "/items/articles", params={"limit": PEER_PAGE, "offset": offset})
                response.raise_for_status()
                page = response.json()["data"]
                if not page:
                    break
                done += len(page)
                offset += PEER_PAGE
        else:
            for chunk in _chunks(items, PEER_PAGE):
                response = client.post(url + "/items/articles", json=chunk)
                response.raise_for_status()
                done += len(response.json()["data"])
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu, "done": done,
            "module": httpx.__version__}


def _http(connection, method, path, token, body=None):
    headers = {"Authorization": "Bearer " + token}
    if body is not None:
        body = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    if response.status >= 300:
        raise RuntimeError("%s %s: %d %s" % (method, path, response.status, data[:300]))
    return json.loads(data) if data else None


def work_floor(task, url, token, count):
    """The peers' work with a plain keep-alive http.client loop: on loopback, the server's own time."""
    items = make_items(count, 2, "New") if task == "create" else None
    parts = urllib.parse.urlsplit(url)
    started, cpu = time.perf_counter(), time.process_time()
    connection = http.client.HTTPConnection(parts.hostname, parts.port)
    done = 0
    if task == "iterate":
        offset = 0
        while True:
            page = _http(connection, "GET", "/items/articles?limit=%d&offset=%d" % (PEER_PAGE, offset), token)["data"]
            if not page:
                break
            done += len(page)
            offset += PEER_PAGE
    else:
        for chunk in _chunks(items, PEER_PAGE):
            done += len(_http(connection, "POST", "/items/articles", token, chunk)["data"])
    connection.close()
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu, "done": done,
            "module": "http.client"}


WORKERS = {"pydirectus": work_pydirectus, "requests": work_requests, "httpx": work_httpx, "floor": work_floor}


def worker_main(argv):
    kind, task, url, token, count = argv
    print(json.dumps(WORKERS[kind](task, url, token, int(count))))


# ------------------------------------------------------------------------------------------------
# The rig.

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 512; }}
http {{
    log_format bench '$connection $connection_requests $request_method $status $body_bytes_sent '
                     '$request_length $request_time "$gzip_ratio" "$request_uri"';
    access_log {dir}/access.log bench;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size 20m;
    keepalive_requests 10000;
    gzip on;
    gzip_types application/json;
    gzip_proxied any;
    gzip_min_length 256;
    upstream directus {{
        server 127.0.0.1:{upstream};
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://directus;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
        }}
    }}
}}
"""


class Nginx:
    def __init__(self, upstream_port, folder):
        self.folder = folder
        self.port = free_port()
        self.log = os.path.join(folder, "access.log")
        self.conf = os.path.join(folder, "nginx.conf")
        with open(self.conf, "w") as handle:
            handle.write(NGINX_CONF.format(dir=folder, upstream=upstream_port, port=self.port))
        self.process = None
        self.log_offset = 0

    def start(self):
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(binary):
            raise SystemExit("nginx is needed: apt-get install -y nginx")
        self.process = subprocess.Popen([binary, "-c", self.conf, "-p", self.folder],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/server/ping")
                if connection.getresponse().read() == b"pong":
                    return self
            except OSError:
                time.sleep(0.1)
        raise SystemExit("nginx did not answer on port %d" % self.port)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def new_lines(self):
        """The access log's lines since the last call: what the client asked, on which connections."""
        with open(self.log, "rb") as handle:
            handle.seek(self.log_offset)
            data = handle.read()
        self.log_offset += len(data)
        requests, connections, limits, statuses, ratios, body_bytes = 0, set(), {}, {}, [], 0
        for line in data.decode("utf-8", "replace").splitlines():
            head, _, rest = line.partition(' "')
            fields = head.split()
            if len(fields) < 7:
                continue
            ratio, _, uri = rest.partition('" "')
            uri = uri.rstrip('"')
            requests += 1
            connections.add(fields[0])
            key = "%s %s" % (fields[2], fields[3])
            statuses[key] = statuses.get(key, 0) + 1
            body_bytes += int(fields[4])
            if ratio not in ("-", ""):
                ratios.append(float(ratio))
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)
            for limit in query.get("limit", []):
                limits[limit] = limits.get(limit, 0) + 1
        return {"requests": requests, "connections": len(connections), "limits": limits, "statuses": statuses,
                "gzip_share": len(ratios) / requests if requests else 0.0, "body_bytes": body_bytes}


class Directus:
    """Plain loopback calls for setting up and cleaning up (never timed)."""

    def __init__(self, url, token):
        parts = urllib.parse.urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        self.token = token

    def call(self, method, path, body=None):
        self.connection.close()  # a fresh connection: Directus drops one idle for 5 s
        return _http(self.connection, method, path, self.token, body)

    def setup(self, count):
        self.call("POST", "/collections", {
            "collection": "articles", "meta": {}, "schema": {},
            "fields": [{"field": "id", "type": "integer",
                        "schema": {"is_primary_key": True, "has_auto_increment": True}},
                       {"field": "title", "type": "string"}, {"field": "author", "type": "string"},
                       {"field": "views", "type": "integer"}, {"field": "body", "type": "text"}]})
        items = make_items(count, 1)
        for chunk in _chunks(items, SEED_BATCH):
            self.call("POST", "/items/articles?fields=id", chunk)
        return self.max_id(), len(json.dumps(items)) / count

    def max_id(self):
        data = self.call("GET", "/items/articles?fields=id&sort=-id&limit=1")["data"]
        return data[0]["id"] if data else 0

    def count(self):
        return int(self.call("GET", "/items/articles?aggregate[count]=*")["data"][0]["count"])

    def delete_above(self, last_id):
        deleted = 0
        while True:
            ids = [row["id"] for row in self.call(
                "GET", "/items/articles?fields=id&limit=1000&filter[id][_gt]=%d" % last_id)["data"]]
            if not ids:
                return deleted
            self.call("DELETE", "/items/articles", ids)
            deleted += len(ids)


def extract_baseline(ref, folder):
    archive = subprocess.run(["git", "-C", ROOT, "archive", ref, "pydirectus"], stdout=subprocess.PIPE,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", ref + "^{commit}"],
                            stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip()
    return commit


def bench_python():
    sys.path.insert(0, HERE)
    import run  # the suite's venv with the pinned peers
    return run.bench_python()


def measure(python, client, task, url, token, count, pythonpath, cwd):
    kind = {"baseline": "pydirectus", "now": "pydirectus"}.get(client, client)
    env = dict(os.environ, PYTHONPATH=pythonpath, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    if not pythonpath:
        del env["PYTHONPATH"]
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(name, None)
    result = subprocess.run([python, os.path.abspath(__file__), "--worker", kind, task, url, token, str(count)],
                            stdout=subprocess.PIPE, universal_newlines=True, cwd=cwd, env=env)
    if result.returncode != 0:
        raise SystemExit("%s %s failed (exit %d)" % (client, task, result.returncode))
    return json.loads(result.stdout.strip().splitlines()[-1])


def load_figure():
    try:
        with open("/proc/loadavg") as handle:
            return float(handle.read().split()[0])
    except (OSError, ValueError):
        return float("nan")


def megabytes(value):
    return "%.1f MB" % (value / 1e6) if value >= 1e5 else "%.0f kB" % (value / 1e3)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt-ms", type=float, default=20.0)
    parser.add_argument("--mbit", type=float, default=50.0)
    parser.add_argument("--items", type=int, default=20000, help="items to iterate (seeded once)")
    parser.add_argument("--create", type=int, default=2000, help="items to create per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline-ref", default="76fccf4")
    parser.add_argument("--now-ref", default=None,
                        help="measure pydirectus (now) at this git revision (default: the working tree as it is)")
    parser.add_argument("--query-limit-max", default="2000")
    parser.add_argument("--shared-link", action="store_true",
                        help="one line per direction for all connections (default: each connection its own)")
    parser.add_argument("--async-client", action="store_true",
                        help="pydirectus (baseline and now) does the work on AsyncDirectusClient")
    parser.add_argument("--out", default=None, help="also write the table to this file")
    parser.add_argument("--json", action="store_true",
                        help="end with one JSON line (the table, medians, self-check) for run.py")
    parser.add_argument("--json-file", default=None, help="also write every measurement to this JSON file")
    args = parser.parse_args(argv)
    if args.async_client:  # read by the pydirectus workers, which inherit the environment
        os.environ["PYDIRECTUS_BENCH_ASYNC"] = "1"
    sys.path.insert(0, HERE)
    from linkshaper import LinkShaper, ShaperError, self_check

    begun = time.monotonic()
    loads = [load_figure()]
    try:
        check = self_check(args.rtt_ms, args.mbit, args.shared_link)
    except ShaperError as error:
        raise SystemExit(str(error))
    check_line = ("Link shaper self-check (asked %.0f ms, %.0f Mbit/s%s): round trip %.1f ms, up %.1f Mbit/s, "
                  "down %.1f Mbit/s, 1 MB download %.0f ms (expected %.0f ms)%s." % (
                      args.rtt_ms, args.mbit, ", shared" if args.shared_link else ", per connection",
                      check["rtt_ms"], check["up_mbit"], check["down_mbit"], check["one_mb_ms"],
                      check["one_mb_expected_ms"],
                      "" if check["attempts"] == 1 else ", passed at attempt %d" % check["attempts"]))
    print("[network] " + check_line, flush=True)
    python = bench_python()
    version = subprocess.run([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()
    sys.path.insert(0, ROOT)
    from pydirectus.testing import DirectusServer

    folder = tempfile.mkdtemp(prefix="pydirectus-network-")
    os.chmod(folder, 0o755)  # nginx's workers (nobody, when started as root) keep request bodies below it
    baseline_dir = os.path.join(folder, "baseline")
    os.makedirs(baseline_dir)
    baseline_commit = extract_baseline(args.baseline_ref, baseline_dir)
    now_dir = ROOT
    if args.now_ref:
        now_dir = os.path.join(folder, "now")
        os.makedirs(now_dir)
        now_label = "now: %s" % extract_baseline(args.now_ref, now_dir)
    else:
        changed = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "pydirectus"],
                                 stdout=subprocess.PIPE, universal_newlines=True).stdout.split("\n")
        changed = [line[3:] for line in changed if line.strip()]
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                              universal_newlines=True).stdout.strip()
        now_label = "now: working tree, %s%s" % (head, " + uncommitted changes to %s" % ", ".join(changed)
                                                 if changed else "")
    nginx_dir = os.path.join(folder, "nginx")
    os.makedirs(nginx_dir)
    paths = {"baseline": baseline_dir, "now": now_dir, "requests": "", "httpx": "", "floor": ""}
    results = {task: {client: [] for client in CLIENTS} for task in ("iterate", "create")}
    nginx = shaper = None
    try:
        with DirectusServer({"QUERY_LIMIT_MAX": args.query_limit_max}) as server:
            print("[network] Directus at %s (ready in %.1f s)" % (server.url, server.ready_seconds), flush=True)
            admin = Directus(server.url, server.token)
            started = time.monotonic()
            last_seeded, item_size = admin.setup(args.items)
            print("[network] seeded %d items (%.0f bytes of JSON each) in %.1f s" % (
                args.items, item_size, time.monotonic() - started), flush=True)
            nginx = Nginx(server.port, nginx_dir).start()
            shaper = LinkShaper(("127.0.0.1", nginx.port), rtt_ms=args.rtt_ms, mbit=args.mbit,
                                shared=args.shared_link).start()
            shaped_url = "http://127.0.0.1:%d" % shaper.port
            # warm the server (schema, prepared statements) once through the whole path
            measure(python, "floor", "iterate", shaped_url, server.token, 0, "", folder)
            measure(python, "floor", "iterate", server.url, server.token, 0, "", folder)
            nginx.new_lines()
            for task, count in (("iterate", args.items), ("create", args.create)):
                for run in range(args.runs):
                    order = CLIENTS[run % len(CLIENTS):] + CLIENTS[:run % len(CLIENTS)]
                    for client in order:
                        url = server.url if client == "floor" else shaped_url
                        before = shaper.snapshot()
                        loads.append(load_figure())
                        figure = measure(python, client, task, url, server.token, count, paths[client], folder)
                        after = shaper.snapshot()
                        figure["received"] = after["down"] - before["down"]
                        figure["sent"] = after["up"] - before["up"]
                        figure["link_connections"] = after["connections"] - before["connections"]
                        figure["segments"] = after["segments"] - before["segments"]
                        figure["late_segments"] = after["late_segments"] - before["late_segments"]
                        figure["late_seconds"] = after["late_seconds"] - before["late_seconds"]
                        figure["nginx"] = nginx.new_lines()
                        expected = args.items if task == "iterate" else count
                        if figure["done"] != expected:
                            raise SystemExit("%s %s: %d items, expected %d" % (client, task, figure["done"],
                                                                                 expected))
                        results[task][client].append(figure)
                        print("[network] %s run %d %-8s %6.2f s  cpu %5.2f s  received %s  requests %d  "
                              "connections %d" % (task, run + 1, client, figure["seconds"], figure["cpu"],
                                                  megabytes(figure["received"]), figure["nginx"]["requests"],
                                                  figure["link_connections"]), flush=True)
                        if task == "create":
                            admin.delete_above(last_seeded)
                            if admin.count() != args.items:
                                raise SystemExit("cleanup left %d items" % admin.count())
            modules = {client: results["iterate"][client][0]["module"] for client in CLIENTS}
        try:
            after_check = self_check(args.rtt_ms, args.mbit, args.shared_link, attempts=1)
            after_line = "round trip %.1f ms, up %.1f, down %.1f Mbit/s, 1 MB %.0f ms" % (
                after_check["rtt_ms"], after_check["up_mbit"], after_check["down_mbit"], after_check["one_mb_ms"])
        except ShaperError as error:
            after_line = "FAILED: %s" % error
        print("[network] self-check after the runs: " + after_line, flush=True)
    finally:
        if shaper is not None:
            shaper.stop()
        if nginx is not None:
            nginx.stop()
        shutil.rmtree(folder, ignore_errors=True)
    loads.append(load_figure())
    if not modules["baseline"].startswith(baseline_dir) or not modules["now"].startswith(now_dir):
        raise SystemExit("the workers imported the wrong pydirectus: %s" % modules)

    def median(task, client, key="seconds"):
        return statistics.median(figure[key] for figure in results[task][client])

    titles = dict(TITLES, baseline=TITLES["baseline"] % baseline_commit)
    if os.environ.get("PYDIRECTUS_BENCH_ASYNC"):
        titles = {client: title.replace("pydirectus", "pydirectus async") for client, title in titles.items()}
    shaped = [figure for task in results for client in CLIENTS[:4] for figure in results[task][client]]
    segments = sum(figure["segments"] for figure in shaped)
    late_segments = sum(figure["late_segments"] for figure in shaped)
    late_seconds = sum(figure["late_seconds"] for figure in shaped)
    works = {"iterate": "iterate %d items (pydirectus `iter_items` defaults; peers: pages of %d by offset)" % (
                 args.items, PEER_PAGE),
             "create": "create %d items (`create_items` defaults; peers: POSTs of %d)" % (args.create, PEER_PAGE)}
    lines = ["### pydirectus over a shaped link: %.0f ms RTT, %.0f Mbit/s each way%s, nginx gzip, Directus 12.4.0" % (
                 args.rtt_ms, args.mbit, " (shared by all connections)" if args.shared_link else " per connection"),
             "",
             "| work | %s | speedup of pydirectus (now) over the faster peer "
             "| bytes received (baseline / now / requests / httpx) |" % " | ".join(titles[c] for c in CLIENTS),
             "|---|%s---|---|" % ("---|" * len(CLIENTS))]
    for task in ("iterate", "create"):
        peer = min(median(task, "requests"), median(task, "httpx"))
        received = " / ".join(megabytes(median(task, client, "received")) for client in CLIENTS[:4])
        lines.append("| %s | %s | %.2fx (baseline: %.2fx) | %s |" % (
            works[task], " | ".join("%.2f s" % median(task, client) for client in CLIENTS),
            peer / median(task, "now"), peer / median(task, "baseline"), received))
    lines += ["", "Medians of %d runs, clients in rotating order, each a fresh process of Python %s; the floor is "
              "a plain http.client loop doing the peers' work on loopback, straight to Directus. QUERY_LIMIT_MAX=%s. "
              "%s Machine: %d cores, load average %.2f at the start, %.2f at the end (max %.2f during the runs); "
              "the whole benchmark took %.0f s. pydirectus (%s). Self-check again after the runs: %s; segments the "
              "shaper sent more than 2 ms after their time: %d of %d (mean lateness %.2f ms)." % (
                  args.runs, version, args.query_limit_max, check_line, os.cpu_count() or 0, loads[0], loads[-1],
                  max(loads), time.monotonic() - begun, now_label, after_line, late_segments, segments,
                  late_seconds / segments * 1000 if segments else 0.0), "",
              "What each client did (medians; requests and connections as nginx and the shaper saw them):", ""]
    for task in ("iterate", "create"):
        for client in CLIENTS[:4]:
            figures = results[task][client]
            last = figures[-1]["nginx"]
            lines.append("- %s, %s: %d requests on %d connection(s) (link: %d), page sizes asked %s, gzip'ed "
                         "answers %.0f%%, sent %s, received %s, client CPU %.2f s; runs: %s" % (
                             task, titles[client], last["requests"], last["connections"],
                             figures[-1]["link_connections"],
                             ", ".join("limit=%s x%d" % pair for pair in sorted(last["limits"].items())) or "none",
                             last["gzip_share"] * 100, megabytes(median(task, client, "sent")),
                             megabytes(median(task, client, "received")), median(task, client, "cpu"),
                             " / ".join("%.2f s" % figure["seconds"] for figure in figures)))
        lines.append("- %s, loopback floor runs: %s" % (task, " / ".join(
            "%.2f s" % figure["seconds"] for figure in results[task]["floor"])))
    several = sorted({"%s (%s)" % (titles[client], task) for task in results for client in CLIENTS[:4]
                      if max(figure["link_connections"] for figure in results[task][client]) > 1})
    if several and not args.shared_link:
        lines += ["", "Note: %s opened more than one connection over the link, and each connection had its own "
                  "%.0f Mbit/s each way; --shared-link puts all connections on one line." % (
                      ", ".join(several), args.mbit)]
    text = "\n".join(lines)
    print()
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")
        print("\n[network] written to %s" % args.out)
    if args.json_file:
        with open(args.json_file, "w") as handle:
            json.dump({"self_check": check, "results": results, "loads": loads}, handle, indent=1)
    if args.json:
        print(json.dumps({"table": text, "self_check": check, "load_max": max(loads),
                          "medians": {task: {client: {key: median(task, client, key)
                                                      for key in ("seconds", "cpu", "received", "sent")}
                                             for client in CLIENTS} for task in results}}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2:])
    else:
        main()
