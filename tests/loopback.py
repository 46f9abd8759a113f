"""The base of the tests' threaded TCP servers on 127.0.0.1 (FakeServer, FakeDirectus, the relays and
proxies): it listens, accepts, counts connections and gives each one to ``handle(conn, number)`` in a
daemon thread of its own. A server says only what it does with a connection:

    class Echo(LoopbackServer):
        def handle(self, conn, number):
            conn.sendall(conn.recv(65536))

A subclass sets what ``handle`` needs before it calls ``LoopbackServer.__init__``, which starts
accepting. The connection is closed once ``handle`` returns.
"""

import socket
import threading


class LoopbackServer:
    """``url`` (https with ``tls_context``, whose handshake runs before ``handle``; ``receive_buffer``
    sets the accepted sockets' SO_RCVBUF), ``port`` and
    ``connections`` (how many were accepted; ``number`` counts from 1). ``close()``, or leaving a
    ``with``, stops accepting and cuts every open connection; it waits for the accept thread, not for
    the handlers' threads (a handler may sleep on purpose), which end with their connection cut."""

    def __init__(self, port=0, tls_context=None, receive_buffer=None):
        self.tls_context = tls_context
        self.connections = 0
        self._lock = threading.Lock()
        self._open = []
        self._closed = False
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if receive_buffer is not None:  # inherited by the accepted sockets: a peer that fills up sooner
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.url = "%s://127.0.0.1:%d" % ("https" if tls_context else "http", self.port)
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def handle(self, conn, number):
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        with self._lock:
            self._closed = True
            still_open = list(self._open)
        _cut(self.listener)  # a plain close() would leave accept() blocked
        for conn in still_open:
            _cut(conn)
        if threading.current_thread() is not self._accepting:
            self._accepting.join()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                if self._closed:  # accepted as close() began
                    conn.close()
                    return
                self.connections += 1
                number = self.connections
                self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn, number):
        raw = conn
        try:
            if self.tls_context is not None:
                try:
                    conn = self.tls_context.wrap_socket(raw, server_side=True)
                except OSError:  # the client refused our certificate
                    return
                self._replace(raw, conn)
            self.handle(conn, number)
        except OSError:
            if not self._closed:  # a handler cut by close() may fail as it likes
                raise
        finally:
            self._replace(conn, None)
            for sock in (raw, conn):
                sock.close()

    def _replace(self, conn, by):
        with self._lock:
            if conn in self._open:
                self._open.remove(conn)
            if by is not None:
                self._open.append(by)
        if by is not None and self._closed:
            _cut(by)


def _cut(sock):
    """Shut ``sock`` down, which wakes a thread blocked on it, and close it."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, for a TLS one too
    except OSError:
        pass
    sock.close()


def read_head(conn, size=65536):
    """The bytes read from ``conn`` up to the end of a request's head (with whatever came in the same
    reads), or b"" if the peer closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(size)
        if not chunk:
            return b""
        data += chunk
    return data
