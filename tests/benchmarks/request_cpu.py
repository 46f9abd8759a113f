"""Client CPU per small GET (reading one item): pydirectus side by side with its peers.

    python3 tests/benchmarks/request_cpu.py [--requests 5000] [--rounds 1] [--directus]

A fast HTTP/1.1 keep-alive server runs in another process, so only the client's own CPU is counted
(time.process_time of this process). The floor is a bare http.client loop plus json.loads; the
seed's style (a new connection per request) is the urlopen row; requests.Session and httpx.Client
are measured when importable (tests/benchmarks/run.py installs them in its own venv). The async
client's row runs its reads one after another in one ``asyncio.run`` (the loop's own CPU included),
and its ratio to the sync client is printed under the table. The machine's noise moves single
measures by 10-20 %: ``--rounds 5`` measures every client five times in turn, and prints medians. With
--directus, the same reads go to a real Directus too, for wall time. Not part of the test suite.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

BODY = json.dumps({"data": {"id": 1, "title": "Hello", "author": "Beff Jezos", "views": 42}}).encode()
ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n"
          b"Keep-Alive: timeout=5\r\nConnection: keep-alive\r\n\r\n" % len(BODY)) + BODY


def serve(listener):
    """A minimal keep-alive server: one fixed answer per request head."""
    import selectors
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    buffers = {}
    while True:
        for key, _ in selector.select():
            sock = key.fileobj
            if sock is listener:
                conn, _ = listener.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                selector.register(conn, selectors.EVENT_READ)
                buffers[conn] = b""
                continue
            data = sock.recv(65536)
            if not data:
                selector.unregister(sock)
                sock.close()
                buffers.pop(sock, None)
                continue
            buffer = buffers[sock] + data
            while b"\r\n\r\n" in buffer:
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                sock.sendall(ANSWER)
            buffers[sock] = buffer


def measure(name, make_call, requests):
    call = make_call()
    for _ in range(20):
        call()  # warm up: connect, log in, caches
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    for _ in range(requests):
        call()
    cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started_wall
    return {"name": name, "cpu_us": cpu / requests * 1e6, "wall_us": wall / requests * 1e6}


def measure_async(name, base, token, path, requests):
    """Like ``measure``, for AsyncDirectusClient.read_item awaited in a loop under asyncio.run."""
    import asyncio
    from pydirectus import AsyncDirectusClient
    collection, _, key = path[len("/items/"):].partition("/")

    async def main():
        async with AsyncDirectusClient(hostname=base, static_token=token, proxies={}) as client:
            for _ in range(20):
                await client.read_item(collection, key)
            started_cpu, started_wall = time.process_time(), time.perf_counter()
            for _ in range(requests):
                await client.read_item(collection, key)
            return time.process_time() - started_cpu, time.perf_counter() - started_wall
    cpu, wall = asyncio.run(main())
    return {"name": name, "cpu_us": cpu / requests * 1e6, "wall_us": wall / requests * 1e6}


def measure_async_floor(name, base, token, path, requests):
    """The async floor: a bare asyncio.Protocol keep-alive loop plus json.loads, in one ``asyncio.run``.

    What any asyncio client pays per request before doing anything of its own (the event loop's
    wake-ups, one future per answer, the socket transport): the async client cannot go below it.
    """
    import asyncio
    host, port = base.split("//")[1].split(":")
    head = ("GET %s HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: Bearer %s\r\n\r\n" % (path, host, port, token)).encode()

    class Answers(asyncio.Protocol):
        def __init__(self):
            self.buffer = bytearray()
            self.waiter = None

        def data_received(self, data):
            self.buffer += data
            waiter, self.waiter = self.waiter, None
            if waiter is not None:
                waiter.set_result(None)

    async def main():
        loop = asyncio.get_running_loop()
        transport, answers = await loop.create_connection(Answers, host, int(port))
        buffer = answers.buffer

        async def call():
            transport.write(head)
            end = -1
            while end < 0 or len(buffer) < end + length:  # one wake-up when the answer comes whole
                answers.waiter = loop.create_future()
                await answers.waiter
                end = buffer.find(b"\r\n\r\n") + 4
                length = int(buffer[:end].lower().split(b"content-length:")[1].split(b"\r\n")[0]) if end >= 4 else 0
            json.loads(bytes(buffer[end:end + length]))
            del buffer[:end + length]
        for _ in range(20):
            await call()
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        for _ in range(requests):
            await call()
        elapsed = time.process_time() - started_cpu, time.perf_counter() - started_wall
        transport.close()
        return elapsed
    cpu, wall = asyncio.run(main())
    return {"name": name, "cpu_us": cpu / requests * 1e6, "wall_us": wall / requests * 1e6}


ASYNC_FLOOR_ROW = "asyncio.Protocol loop + json.loads (async floor)"
ASYNC_ROW = "pydirectus AsyncDirectusClient.read_item"
SYNC_ROW = "pydirectus DirectusClient.read_item"


def clients(base, token, path):
    """(name, factory of a zero-argument call) for every client available here."""
    host, port = base.split("//")[1].split(":")
    found = []

    def floor():
        conn = http.client.HTTPConnection(host, int(port))

        def call():
            conn.request("GET", path, headers={"Authorization": "Bearer " + token})
            json.loads(conn.getresponse().read())
        return call
    found.append(("http.client loop + json.loads (floor)", floor))

    def urlopen():
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        def call():
            request = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
            with opener.open(request) as response:
                json.loads(response.read())
        return call
    found.append(("urllib.request.urlopen (new connection each)", urlopen))

    def pydirectus():
        from pydirectus import DirectusClient
        client = DirectusClient(hostname=base, static_token=token, proxies={})
        collection, _, key = path[len("/items/"):].partition("/")
        return lambda: client.read_item(collection, key)
    found.append((SYNC_ROW, pydirectus))

    try:
        import requests

        def with_requests():
            session = requests.Session()
            session.trust_env = False
            session.headers["Authorization"] = "Bearer " + token
            return lambda: session.get(base + path).json()
        found.append(("requests %s Session.get + .json()" % requests.__version__, with_requests))
    except ImportError:
        pass
    try:
        import httpx

        def with_httpx():
            client = httpx.Client(headers={"Authorization": "Bearer " + token}, trust_env=False)
            return lambda: client.get(base + path).json()
        found.append(("httpx %s Client.get + .json()" % httpx.__version__, with_httpx))
    except ImportError:
        pass
    return found


def rows_in_rounds(base, token, path, requests, rounds, async_floor):
    """Every client's row against ``base``: each the median of ``rounds`` measures, taken in turn
    (every client once per round), so that a noisy moment weighs on all rows alike."""
    samples = {}  # row name -> its measures, in the order the rows are printed
    for _ in range(rounds):
        for name, factory in clients(base, token, path):
            count = requests // 5 if "urlopen" in name else requests
            samples.setdefault(name, []).append(measure(name, factory, count))
            if name == SYNC_ROW:
                samples.setdefault(ASYNC_ROW, []).append(measure_async(ASYNC_ROW, base, token, path, requests))
                if async_floor:
                    samples.setdefault(ASYNC_FLOOR_ROW, []).append(
                        measure_async_floor(ASYNC_FLOOR_ROW, base, token, path, requests))
    return [median_row(measures) for measures in samples.values()]


def fast_server_rows(requests, rounds=1):
    """The rows against the fast local server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    server = multiprocessing.Process(target=serve, args=(listener,), daemon=True)
    server.start()
    try:
        return rows_in_rounds("http://127.0.0.1:%d" % listener.getsockname()[1], "token", "/items/articles/1",
                              requests, rounds, async_floor=True)
    finally:
        server.terminate()


def median_row(measures):
    """One row of several measures of one client: the median CPU and wall time."""
    import statistics
    return dict(measures[0], cpu_us=statistics.median(row["cpu_us"] for row in measures),
                wall_us=statistics.median(row["wall_us"] for row in measures))


def directus_rows(requests, rounds=1):
    from pydirectus import DirectusClient
    from pydirectus.testing import DirectusServer
    with DirectusServer() as server:
        admin = DirectusClient(hostname=server.url, static_token=server.token)
        admin.create_collection({"collection": "articles", "meta": {}, "schema": {}, "fields": [
            {"field": "id", "type": "integer", "schema": {"is_primary_key": True, "has_auto_increment": True}},
            {"field": "title", "type": "string"}]})
        key = admin.create_item("articles", {"title": "Hello"}).id
        return rows_in_rounds(server.url, server.token, "/items/articles/%s" % key, requests, rounds,
                              async_floor=False)


def table(rows, title):
    floor = rows[0]["cpu_us"]
    lines = ["%-48s %12s %12s %8s" % (title, "CPU us/req", "wall us/req", "x floor")]
    for row in rows:
        lines.append("%-48s %12.1f %12.1f %8.2f" % (row["name"], row["cpu_us"], row["wall_us"], row["cpu_us"] / floor))
    by_name = {row["name"]: row for row in rows}
    if ASYNC_ROW in by_name and SYNC_ROW in by_name:
        lines.append("async client CPU / sync client CPU: %.2f (issue 11 asks at most 1.3)"
                     % (by_name[ASYNC_ROW]["cpu_us"] / by_name[SYNC_ROW]["cpu_us"]))
    if ASYNC_ROW in by_name and ASYNC_FLOOR_ROW in by_name:
        lines.append("async client CPU / async floor CPU: %.2f"
                     % (by_name[ASYNC_ROW]["cpu_us"] / by_name[ASYNC_FLOOR_ROW]["cpu_us"]))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every client this many times in turn and print the medians")
    parser.add_argument("--directus", action="store_true", help="also read from a real Directus")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    result = {"fast_server": fast_server_rows(args.requests, args.rounds)}
    if args.directus:
        result["directus"] = directus_rows(max(200, args.requests // 10), args.rounds)
    if args.json:
        print(json.dumps(result))
        return
    python = "Python %d.%d" % sys.version_info[:2]
    print(table(result["fast_server"], "fast local server, " + python))
    if "directus" in result:
        print(table(result["directus"], "real Directus 12.4.0, " + python))


if __name__ == "__main__":
    main()
