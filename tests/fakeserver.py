"""A scriptable HTTP/1.1 server on 127.0.0.1 for what a real Directus cannot be made to do:
dropped connections, truncated or non-JSON bodies, stalls, exact counts of connections.

    with FakeServer(handler) as server:
        client = DirectusClient(hostname=server.url, ...)

``handler(request)`` gets a ``Seen`` request (method, target, headers, body, connection number)
and returns the raw bytes to write (use ``reply``), or None to close the connection without an
answer. Every request is recorded in ``server.requests``.
"""

import json

from tests.loopback import LoopbackServer


class Seen:
    def __init__(self, method, target, headers, body, connection):
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.connection = connection

    def json(self):
        return json.loads(self.body) if self.body else None

    def __repr__(self):
        return "<Seen %s %s on connection %d>" % (self.method, self.target, self.connection)


def reply(status=200, body=b"", headers=None, content_type="application/json; charset=utf-8", length=None):
    """Raw bytes of an HTTP answer; a dict or list body is sent as JSON; ``length`` can lie."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    lines = ["HTTP/1.1 %d X" % status]
    if body or content_type:
        lines.append("Content-Type: %s" % content_type)
    lines.append("Content-Length: %d" % (len(body) if length is None else length))
    for name, value in (headers or {}).items():
        lines.append("%s: %s" % (name, value))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class FakeServer(LoopbackServer):
    def __init__(self, handler, port=0):
        self.handler = handler
        self.requests = []
        super().__init__(port)

    def handle(self, conn, number):
        reader = conn.makefile("rb")
        try:
            while True:
                line = reader.readline()
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers = {}
                while True:
                    line = reader.readline().decode("latin-1")
                    if line in ("\r\n", "\n", ""):
                        break
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = b""
                if "content-length" in headers:
                    body = reader.read(int(headers["content-length"]))
                elif headers.get("transfer-encoding") == "chunked":
                    while True:
                        size = int(reader.readline().split(b";")[0], 16)
                        chunk = reader.read(size)
                        reader.readline()
                        if size == 0:
                            break
                        body += chunk
                seen = Seen(method, target, headers, body, number)
                with self._lock:
                    self.requests.append(seen)
                answer = self.handler(seen)
                if answer is None:
                    return
                if callable(answer):
                    answer(conn)
                    return
                conn.sendall(answer)
        except (OSError, ValueError):
            return
