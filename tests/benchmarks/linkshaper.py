"""A link shaper for benchmarks: a loopback TCP proxy that adds delay and limits bandwidth.

    shaper = LinkShaper(("127.0.0.1", upstream_port), rtt_ms=20, mbit=50).start()
    ... connect to 127.0.0.1:shaper.port ...
    shaper.bytes_up, shaper.bytes_down, shaper.connections   # counters, read them before and after
    shaper.stop()

Each direction of each connection is a link of its own (``shared=True``: one link per direction for
all connections together, as one access line would be): a chunk read from one side is cut into
segments of at most ``SEGMENT`` bytes; a segment starts being "sent" when the link is free and the
segment has arrived, takes ``size * 8 / rate`` seconds to go through, and reaches the other side
``rtt / 2`` later. A writer thread per direction sends each segment at that time, in order, so byte
order is kept and a large transfer is paced at the rate: 1 MB at 50 Mbit/s takes 160 ms plus the
one-way delay. At most ``buffer_bytes`` wait in a direction: beyond that the reader stops reading
and TCP's flow control pushes back on the sender, as a router's buffer would.

``self_check()`` measures what the shaper achieves against a tiny echo server of its own (the round
trip of small messages, the throughput of a few MB each way) and raises ShaperError when either is
off by more than ``tolerance``. Standard library only; threads, so several connections at once are
fine. Not part of the test suite.
"""

import collections
import socket
import statistics
import threading
import time

__all__ = ["LinkShaper", "ShaperError", "self_check"]

SEGMENT = 16 * 1024
LATE = 0.002  # a segment sent this much after its time counts as late (a busy machine delays the threads)
_EOF = object()


class ShaperError(RuntimeError):
    """The shaper does not achieve the delay or the rate it was asked for."""


class _Link:
    """One direction's line: when it is free again (a shared link is used by several pipes)."""

    def __init__(self, bytes_per_second):
        self.bytes_per_second = bytes_per_second
        self.free_at = 0.0
        self.lock = threading.Lock()

    def schedule(self, arrived, size):
        """When a segment of ``size`` bytes that reached the link at ``arrived`` has gone through it."""
        with self.lock:
            start = max(arrived, self.free_at)
            self.free_at = start + size / self.bytes_per_second
            return self.free_at


def _nodelay(sock):
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


class _Pipe:
    """One direction of one connection: a reader thread stamps segments, a writer sends them on time."""

    def __init__(self, shaper, source, destination, link, counter):
        self.shaper = shaper
        self.source, self.destination = source, destination
        self.link, self.counter = link, counter
        self.queue = collections.deque()
        self.queued = 0
        self.condition = threading.Condition()
        self.closed = False

    def start(self):
        for target in (self._read, self._write):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()

    def _put(self, item, size):
        with self.condition:
            while self.queued + size > self.shaper.buffer_bytes and self.queue and not self.closed:
                self.condition.wait()
            self.queue.append(item)
            self.queued += size
            self.condition.notify_all()

    def _read(self):
        delay = self.shaper.delay
        try:
            while True:
                data = self.source.recv(256 * 1024)
                now = time.monotonic()
                if not data:
                    break
                with self.shaper.lock:
                    self.shaper.counts[self.counter] += len(data)
                view = memoryview(data)
                for offset in range(0, len(data), SEGMENT):
                    segment = view[offset:offset + SEGMENT]
                    due = self.link.schedule(now, len(segment)) + delay
                    self._put((due, segment), len(segment))
        except OSError:
            pass
        self._put((time.monotonic() + delay, _EOF), 0)

    def _write(self):
        try:
            while True:
                with self.condition:
                    while not self.queue:
                        self.condition.wait()
                    due, segment = self.queue.popleft()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                late = time.monotonic() - due
                with self.shaper.lock:
                    counts = self.shaper.counts
                    counts["segments"] += 1
                    counts["late_seconds"] += late
                    if late > LATE:
                        counts["late_segments"] += 1
                if segment is _EOF:
                    try:
                        self.destination.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    break
                self.destination.sendall(segment)
                with self.condition:
                    self.queued -= len(segment)
                    self.condition.notify_all()
        except OSError:
            # the other side is gone: drop both sockets, which ends the opposite pipe too
            for sock in (self.source, self.destination):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        finally:
            with self.condition:
                self.closed = True
                self.condition.notify_all()
            self.shaper._pipe_done(self)


class LinkShaper:
    """A TCP proxy on 127.0.0.1 to ``upstream`` that behaves like a link of ``rtt_ms`` and ``mbit``."""

    def __init__(self, upstream, rtt_ms=20.0, mbit=50.0, shared=False, buffer_bytes=None):
        self.upstream = upstream
        self.rtt_ms, self.mbit, self.shared = rtt_ms, mbit, shared
        self.delay = rtt_ms / 2000.0
        self.bytes_per_second = mbit * 1e6 / 8
        # a router buffer of about two bandwidth-delay products, at least 256 KiB
        self.buffer_bytes = buffer_bytes or max(256 * 1024, int(2 * self.bytes_per_second * rtt_ms / 1000))
        self.lock = threading.Lock()
        # bytes each way, connections, segments sent, how late in all, how many later than LATE
        self.counts = {"up": 0, "down": 0, "connections": 0, "segments": 0, "late_seconds": 0.0, "late_segments": 0}
        self._links = (_Link(self.bytes_per_second), _Link(self.bytes_per_second)) if shared else None
        self._open_pipes = {}
        self._listener = None
        self.port = None

    # counters -------------------------------------------------------------------------------
    def snapshot(self):
        with self.lock:
            return dict(self.counts)

    @property
    def bytes_up(self):
        return self.counts["up"]

    @property
    def bytes_down(self):
        return self.counts["down"]

    @property
    def connections(self):
        return self.counts["connections"]

    # life -----------------------------------------------------------------------------------
    def start(self):
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        if self._listener is not None:
            try:
                self._listener.close()
            except OSError:
                pass
            self._listener = None

    def __enter__(self):
        return self.start() if self._listener is None else self

    def __exit__(self, *exc_info):
        self.stop()

    def _accept(self):
        listener = self._listener
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            _nodelay(client)
            _nodelay(server)
            with self.lock:
                self.counts["connections"] += 1
            if self._links is not None:
                up_link, down_link = self._links
            else:
                up_link, down_link = _Link(self.bytes_per_second), _Link(self.bytes_per_second)
            pipes = (_Pipe(self, client, server, up_link, "up"), _Pipe(self, server, client, down_link, "down"))
            with self.lock:
                for pipe in pipes:
                    self._open_pipes[pipe] = pipes
            for pipe in pipes:
                pipe.start()

    def _pipe_done(self, pipe):
        with self.lock:
            pipes = self._open_pipes.pop(pipe, None)
            if pipes is None or any(other in self._open_pipes for other in pipes):
                return
        for sock in (pipes[0].source, pipes[0].destination):
            try:
                sock.close()
            except OSError:
                pass


# self-check -----------------------------------------------------------------------------------
def _recv_exactly(sock, size):
    chunks, left = [], size
    while left:
        data = sock.recv(min(left, 1 << 20))
        if not data:
            raise ShaperError("connection closed with %d bytes missing" % left)
        chunks.append(data)
        left -= len(data)
    return b"".join(chunks)


class _TestServer:
    """Echo ('e' + 8-byte length: echoes that many bytes back), sink ('u' + length: reads them, answers
    one byte) and source ('d' + length: sends that many bytes), on one connection, in turn."""

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            _nodelay(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        try:
            while True:
                head = sock.recv(9, socket.MSG_WAITALL)
                if len(head) < 9:
                    return
                kind, size = head[:1], int.from_bytes(head[1:], "big")
                if kind == b"e":
                    sock.sendall(_recv_exactly(sock, size))
                elif kind == b"u":
                    _recv_exactly(sock, size)
                    sock.sendall(b"k")
                elif kind == b"d":
                    block = b"x" * 65536
                    left = size
                    while left:
                        part = block[:min(left, len(block))]
                        sock.sendall(part)
                        left -= len(part)
        except OSError:
            pass
        finally:
            sock.close()

    def close(self):
        self.listener.close()


def self_check(rtt_ms=20.0, mbit=50.0, shared=False, megabytes=4, rounds=10, tolerance=0.2, attempts=3):
    """Measure a fresh shaper of these settings against an echo server; raise ShaperError when off
    in each of ``attempts`` tries (a busy machine can delay the shaper's threads once).

    Returns {"rtt_ms", "up_mbit", "down_mbit", "one_mb_ms"}: the median round trip of 100-byte
    messages, the rate of ``megabytes`` MB each way (their time less one round trip), and the time
    of a 1 MB download from request to last byte (expected: 8 / mbit s + rtt), and ``attempts``:
    the tries it took."""
    for attempt in range(1, attempts + 1):
        try:
            result = _check_once(rtt_ms, mbit, shared, megabytes, rounds, tolerance)
        except ShaperError:
            if attempt == attempts:
                raise
            time.sleep(1)
        else:
            result["attempts"] = attempt
            return result


def _check_once(rtt_ms, mbit, shared, megabytes, rounds, tolerance):
    server = _TestServer()
    shaper = LinkShaper(("127.0.0.1", server.port), rtt_ms=rtt_ms, mbit=mbit, shared=shared).start()
    try:
        sock = socket.create_connection(("127.0.0.1", shaper.port))
        _nodelay(sock)
        with sock:
            message = b"m" * 100
            trips = []
            for _ in range(rounds + 1):
                started = time.perf_counter()
                sock.sendall(b"e" + len(message).to_bytes(8, "big") + message)
                _recv_exactly(sock, len(message))
                trips.append(time.perf_counter() - started)
            rtt = statistics.median(trips[1:])
            size = int(megabytes * 1e6)
            payload = b"u" * size
            started = time.perf_counter()
            sock.sendall(b"u" + size.to_bytes(8, "big") + payload)
            _recv_exactly(sock, 1)
            up = size * 8 / (time.perf_counter() - started - rtt) / 1e6
            started = time.perf_counter()
            sock.sendall(b"d" + size.to_bytes(8, "big"))
            _recv_exactly(sock, size)
            down = size * 8 / (time.perf_counter() - started - rtt) / 1e6
            started = time.perf_counter()
            sock.sendall(b"d" + (1000000).to_bytes(8, "big"))
            _recv_exactly(sock, 1000000)
            one_mb = time.perf_counter() - started
    finally:
        shaper.stop()
        server.close()
    result = {"rtt_ms": rtt * 1000, "up_mbit": up, "down_mbit": down, "one_mb_ms": one_mb * 1000,
              "one_mb_expected_ms": 8 / mbit * 1000 + rtt_ms}
    problems = []
    if abs(rtt * 1000 - rtt_ms) > tolerance * rtt_ms:
        problems.append("round trip %.1f ms, asked for %.1f ms" % (rtt * 1000, rtt_ms))
    for name, rate in (("up", up), ("down", down)):
        if abs(rate - mbit) > tolerance * mbit:
            problems.append("%s rate %.1f Mbit/s, asked for %.1f Mbit/s" % (name, rate, mbit))
    expected = result["one_mb_expected_ms"]
    if abs(one_mb * 1000 - expected) > tolerance * expected:
        problems.append("1 MB took %.0f ms, expected %.0f ms" % (one_mb * 1000, expected))
    if problems:
        raise ShaperError("link shaper self-check failed: " + "; ".join(problems))
    return result


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description="self-check of the link shaper")
    parser.add_argument("--rtt-ms", type=float, default=20.0)
    parser.add_argument("--mbit", type=float, default=50.0)
    parser.add_argument("--shared", action="store_true")
    args = parser.parse_args()
    print(self_check(args.rtt_ms, args.mbit, args.shared))
