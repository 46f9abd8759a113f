"""Client CPU per small GET (reading one item), pydirectus against a bare http.client loop.

    python3 tests/benchmarks/request_cpu.py [--requests 5000]

A fast HTTP/1.1 keep-alive server runs in another process, so only the client's own CPU is counted
(time.process_time of this process). The floor is a bare http.client loop plus json.loads; the
seed's style (a new connection per request) is the urlopen row. Not part of the test suite.
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
                if b"Connection: close" in head:
                    sock.sendall(ANSWER.replace(b"Connection: keep-alive", b"Connection: close"))
                else:
                    sock.sendall(ANSWER)
            buffers[sock] = buffer


def measure(name, setup, requests):
    call = setup()
    call()  # warm up: connect, log in, caches
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    for _ in range(requests):
        call()
    cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started_wall
    return name, cpu / requests * 1e6, wall / requests * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    server = multiprocessing.Process(target=serve, args=(listener,), daemon=True)
    server.start()
    base = "http://127.0.0.1:%d" % port

    def floor():
        conn = http.client.HTTPConnection("127.0.0.1", port)

        def call():
            conn.request("GET", "/items/articles/1", headers={"Authorization": "Bearer t"})
            json.loads(conn.getresponse().read())
        return call

    def urlopen():
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        def call():
            request = urllib.request.Request(base + "/items/articles/1", headers={"Authorization": "Bearer t"})
            with opener.open(request) as response:
                json.loads(response.read())
        return call

    def pydirectus():
        from pydirectus import DirectusClient
        client = DirectusClient(hostname=base, static_token="t", proxies={})
        return lambda: client.read_item("articles", 1)

    rows = [measure("http.client loop + json.loads (floor)", floor, args.requests),
            measure("urllib.request.urlopen (new connection each)", urlopen, args.requests // 5),
            measure("pydirectus DirectusClient.read_item", pydirectus, args.requests)]
    server.terminate()
    floor_cpu = rows[0][1]
    print("%-48s %12s %12s %8s" % ("client (Python %d.%d)" % sys.version_info[:2], "CPU us/req", "wall us/req",
                                   "x floor"))
    for name, cpu, wall in rows:
        print("%-48s %12.1f %12.1f %8.2f" % (name, cpu, wall, cpu / floor_cpu))


if __name__ == "__main__":
    main()
