"""A scriptable HTTP/1.1 server on 127.0.0.1 for what a real Directus cannot be made to do:
dropped connections, truncated or non-JSON bodies, stalls, exact counts of connections.

    with FakeServer(handler) as server:
        client = DirectusClient(hostname=server.url, ...)

``handler(request)`` gets a ``Seen`` request (method, target, headers, body, connection number)
and returns the raw bytes to write (use ``reply``), or None to close the connection without an
answer. Every request is recorded in ``server.requests``.
"""

import json
import socket
import threading


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


class FakeServer:
    def __init__(self, handler):
        self.handler = handler
        self.requests = []
        self.connections = 0
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self._open = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self._listener.close()
        for conn in list(self._open):
            try:
                conn.close()
            except OSError:
                pass

    def _accept(self):
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                number = self.connections
            self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn, number):
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
        finally:
            try:
                conn.close()
            except OSError:
                pass
