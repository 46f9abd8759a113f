"""The async transport: HTTP/1.1 over asyncio, the async twin of ``_sync/transport.py``.

``AsyncHTTPTransport.send(request) -> Response`` (a coroutine) with a keep-alive pool per origin
bounded by ``max_connections`` (callers beyond the bound wait their turn), with the sync
transport's timeouts, proxies, streaming and integrity rules, and the HTTP/1.1 codec both share
(``_core/http11.py``). Cancelling a request closes its connection and frees its place in the pool.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections import deque

from ..errors import TransportError
from .._core.records import Response
from .._core.http11 import (HEAD_LIMIT, LAST_CHUNK, BodyFraming, ContentDecoder, CutShort, HeadTooLarge,
                            ProtocolFailure, UndecodableBody, content_decoder,
                            after_sent_error, connect_error, encode_chunk, frame_chunk, host_header, idle_limit,
                            parse_head, proxies_from, read_timeout_error, request_head, resolve_route, send_error,
                            split_url, too_large_error, tunnel_answer, tunnel_request)
from .._sync.transport import make_ssl_context

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from ssl import SSLContext
    from typing import Awaitable, Callable, Deque, Dict, List, Mapping, Optional, Tuple, TypeVar, Union

    from .._core.records import Chunk, Request
    from .._core.http11 import Bytes, ParsedHead, PoolKey, Proxy, Streamed

    T = TypeVar("T")
    # (pool, whether the target is an absolute URL, headers for the proxy with each request, Host header)
    Route = Tuple["_Pool", bool, Dict[str, str], str]

__all__ = ["AsyncHTTPTransport", "AsyncResponseStream", "open_tunnel"]

_CHUNK = 64 * 1024
# Past this many received bytes that nobody waits for, a connection stops reading from its socket
# (a streamed body read slowly holds at most about this much); it reads again once the buffer is
# down to _RESUME_AT, or when a read waits for more.
_BUFFER_LIMIT = 256 * 1024
_RESUME_AT = _BUFFER_LIMIT // 4
# What one socket read fills: the connection's own buffer, made once. A plain Protocol would get a
# new bytes object of asyncio's 256 KiB read size from every read, and the allocator's churn costs
# page faults: measured, twice the faults and ~20 us of CPU per small request on a steady loop.
_READ_SIZE = 64 * 1024
# what a wait for the write buffer to drain "wants" from the read buffer: never enough
_DRAIN = sys.maxsize
# the clock of quiet time: asyncio's own (BaseEventLoop.time), called without a method call per
# received piece
_monotonic = time.monotonic


# --- failures inside a response, turned into TransportErrors by _after_sent_error -------------

class _ReadTimedOut(ProtocolFailure):
    """Set on a waiting request by the watchdog: the server stayed quiet for read_timeout."""


_READ_FAILURES = (OSError, ProtocolFailure)


def _after_sent_error(exc: BaseException, method: str, url: str, read_timeout: float) -> TransportError:
    if isinstance(exc, (_ReadTimedOut, socket.timeout)):
        return read_timeout_error(method, url, read_timeout)
    return after_sent_error(exc, method, url)


# --- the CONNECT tunnel -----------------------------------------------------------------------

async def open_tunnel(host: str, port: int, proxy: Proxy, proxy_headers: Mapping[str, str],
                      open_on: Callable[[socket.socket], Awaitable[T]]) -> T:
    """What ``open_on(sock)`` opens on a socket connected to ``host:port`` through the HTTP proxy
    ``proxy`` (``(host, port)``) with a CONNECT tunnel; ``proxy_headers`` go with the CONNECT.

    ``open_on`` is a coroutine function given the tunnelled socket, once the proxy said 2xx: it
    starts TLS and the caller's protocol on it (asyncio streams, a transport). The CONNECT goes
    over the bare socket so that TLS can start on it afterwards (asyncio streams cannot start TLS
    on an open stream before Python 3.11). The socket is closed if anything fails. A refusing
    proxy raises ConnectionError.
    """
    loop = asyncio.get_running_loop()
    sock: Optional[socket.socket] = None
    failure = OSError("no address for the proxy %s" % proxy[0])
    for family, kind, protocol, _, address in await loop.getaddrinfo(proxy[0], proxy[1], type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, protocol)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
            break
        except OSError as error:
            sock.close()
            sock, failure = None, error
    if sock is None:
        raise failure
    try:
        await loop.sock_sendall(sock, tunnel_request(host, port, proxy_headers))
        received = b""
        while True:  # the proxy says nothing more before we speak through it
            data = await loop.sock_recv(sock, 4096)
            received += data
            if tunnel_answer(received, host, port, ended=not data):
                break
        return await open_on(sock)
    except BaseException:
        sock.close()
        raise


# --- connections and their pool ---------------------------------------------------------------

class _Connection(asyncio.BufferedProtocol):
    """One socket: the bytes received on it, and the request (at most one) waiting for more.
    An ``asyncio.Protocol`` gathering into one buffer rather than asyncio streams: a small answer
    costs one wake-up of the request's task, where streams cost several futures and coroutine
    layers per read.

    ``wait(wanted)`` gives a future that the connection resolves once its buffer holds ``wanted``
    bytes, or the peer closed, or the server stayed quiet for ``read_timeout`` (then it fails with
    _ReadTimedOut). The reads (``read_until``, ``read_some``, ``read_exactly``, ``take``) take from
    the buffer and wait only when it holds too little.

    Quiet time is watched by one watchdog timer per connection: each wait and each received piece
    moves the moment of the last progress, and the watchdog, when it fires, times the wait out or
    sets itself again for the time left. It outlives the exchange, so back-to-back requests share
    one timer instead of arming and cancelling one per read, a good part of an asyncio request's
    own cost. Writes wait in the same way when the socket's write buffer is full (``drain``).

    Flow control both ways: reading stops when more than _BUFFER_LIMIT bytes wait in the buffer
    with nobody asking for more (a streamed body read slowly), and starts again as they are taken;
    ``drain`` waits while the transport asked us to stop writing (pause_writing).
    """

    __slots__ = ("loop", "transport", "read_timeout", "buffer", "_incoming", "reused", "reusable_until",
                 "idle_limit", "_waiter", "_wanted", "_progress", "_watchdog", "_eof", "_lost", "_reading_paused",
                 "_writing_paused")

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport  # set by connection_made, before the connection is handed to anyone
    read_timeout: float
    buffer: bytearray
    _incoming: memoryview
    reused: bool
    reusable_until: float
    idle_limit: Optional[float]
    _waiter: Optional[asyncio.Future[None]]
    _wanted: int
    _progress: float
    _watchdog: Optional[asyncio.TimerHandle]
    _eof: bool
    _lost: Optional[Exception]
    _reading_paused: bool
    _writing_paused: bool

    def __init__(self, loop: asyncio.AbstractEventLoop, read_timeout: float) -> None:
        self.loop = loop
        self.transport = None  # type: ignore[assignment]  # until connection_made, which create_connection calls
        self.read_timeout = read_timeout
        self.buffer = bytearray()  # always this object: the reads hold on to it
        self._incoming = memoryview(bytearray(_READ_SIZE))  # where the socket reads land (get_buffer)
        self.reused = False
        self.reusable_until = 0.0
        self.idle_limit = None
        self._waiter = None  # the future of the pending wait, if any
        self._wanted = 0  # how many buffered bytes resolve it (_DRAIN: none, only resume_writing)
        self._progress = 0.0  # when the pending wait started or last received something
        self._watchdog = None  # the pending watchdog timer, if any
        self._eof = False  # the peer closed its side: no more bytes will come
        self._lost = None  # the error the connection was lost with, if any
        self._reading_paused = False
        self._writing_paused = False

    # --- what asyncio calls -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # a socket's
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._incoming

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._incoming[:nbytes])

    def data_received(self, data: Union[bytes, memoryview]) -> None:
        buffer = self.buffer
        buffer += data
        if self._waiter is not None:
            self._progress = _monotonic()
            if len(buffer) >= self._wanted or self._wanted == _DRAIN:  # an answer stops a drain wait
                self._wake(None)
        elif len(buffer) > _BUFFER_LIMIT and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def eof_received(self) -> None:
        self._eof = True
        self._wake(None)
        # returning None lets the transport close: an answer never goes on after the peer's end

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._eof = True
        self._lost = exc
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._wake(None)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._wanted == _DRAIN:
            self._wake(None)

    # --- waiting --------------------------------------------------------------------------------
    def _wake(self, exc: Optional[BaseException]) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():  # a cancelled wait stays cancelled
                if exc is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(exc)

    def wait(self, wanted: int) -> asyncio.Future[None]:
        """A future resolved once the buffer holds ``wanted`` bytes (``_DRAIN``: once writing may
        go on), or the peer closed; it fails with _ReadTimedOut after read_timeout of quiet."""
        loop = self.loop
        waiter: asyncio.Future[None] = loop.create_future()
        if self._eof:
            waiter.set_result(None)  # nothing more will come: the caller looks at what there is
            return waiter
        self._waiter = waiter
        self._wanted = wanted
        if self.read_timeout is not None:
            self._progress = _monotonic()
            if self._watchdog is None:
                self._watchdog = loop.call_later(self.read_timeout, self._check_quiet)
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()
        return waiter

    def _check_quiet(self) -> None:
        self._watchdog = None
        if self._waiter is None:
            return  # nobody waits: the next wait sets the watchdog again
        quiet = _monotonic() - self._progress
        if quiet >= self.read_timeout:
            self._wake(_ReadTimedOut())
        else:
            self._watchdog = self.loop.call_later(self.read_timeout - quiet, self._check_quiet)

    # --- reading ----------------------------------------------------------------------------------
    def _closed_error(self) -> Exception:
        return self._lost or ConnectionResetError("the server closed the connection")

    def take(self, amount: int) -> bytes:
        """The first ``amount`` bytes of the buffer (it holds them)."""
        buffer = self.buffer
        if amount == len(buffer):
            data = bytes(buffer)
            buffer.clear()
        else:
            view = memoryview(buffer)
            data = bytes(view[:amount])
            view.release()  # before the buffer changes size
            del buffer[:amount]
        if self._reading_paused and len(buffer) <= _RESUME_AT:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    async def read_until(self, separator: bytes) -> bytes:
        """The bytes up to and including ``separator`` (an answer's head or a chunk's size line)."""
        buffer = self.buffer
        searched = 0
        while True:
            end = buffer.find(separator, searched)
            if end >= 0:
                return self.take(end + len(separator))
            if len(buffer) > HEAD_LIMIT:
                raise HeadTooLarge()
            if self._eof:
                raise self._closed_error()
            searched = max(0, len(buffer) - len(separator) + 1)
            await self.wait(len(buffer) + 1)

    async def read_some(self, amount: int) -> bytes:
        """Up to ``amount`` bytes, at least one; b"" once the peer closed."""
        buffer = self.buffer
        while not buffer:
            if self._eof:
                if self._lost is not None:
                    raise self._lost
                return b""
            await self.wait(1)
        return self.take(min(amount, len(buffer)))

    async def read_exactly(self, amount: int) -> bytes:
        """``amount`` bytes, or fewer when the peer closes the connection first."""
        buffer = self.buffer
        while len(buffer) < amount:
            if self._eof:
                return self.take(len(buffer))
            await self.wait(amount)
        return self.take(amount)

    async def read_head(self, method: str) -> ParsedHead:
        """``parse_head``'s answer for the next answer's head (1xx answers skipped)."""
        while True:
            answer = parse_head(await self.read_until(b"\r\n\r\n"), method)
            if answer is not None:
                return answer

    # --- writing ----------------------------------------------------------------------------------
    def write(self, data: Bytes) -> None:
        """Hand ``data`` to the transport; raises ConnectionError when the connection is gone."""
        transport = self.transport
        if transport.is_closing():
            raise self._closed_error()
        transport.write(data)
        if transport.is_closing():  # the socket failed while writing
            raise self._closed_error()

    def answered(self) -> bool:
        """Whether the server answered (or closed) already: while a body is still going out, the
        server refused it before reading it all (a 403 for a folder it cannot write, say) and may
        have stopped reading, so the rest is not sent and its answer is read at once."""
        return bool(self.buffer) or self._eof

    async def drain(self) -> bool:
        """Wait while the transport's write buffer is full (quiet time counts as for reads), or
        until the server answers: False then, when what was written has not all gone out."""
        while self._writing_paused:
            if self.answered():
                return False
            await self.wait(_DRAIN)
        return True

    # --- the pool's checks ------------------------------------------------------------------------
    def usable_idle(self, now: float) -> bool:
        """Whether this idle connection can carry another request (not expired, not closed by the
        peer, no stray bytes received: a body sent with a HEAD answer would be read as the next answer)."""
        return now < self.reusable_until and self.reusable()

    def reusable(self) -> bool:
        """Whether the connection is still open, with nothing unread in it."""
        return not self._eof and not self.buffer and not self.transport.is_closing()

    def close(self) -> None:
        """Close gracefully (what was written still goes out)."""
        self.transport.close()

    def abort(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        try:
            self.transport.abort()
        except RuntimeError:  # its event loop is closed already: the socket went with it
            pass


class _Pool:
    """The connections of one origin: ``open`` counts those connected, connecting or in use."""

    __slots__ = ("key", "proxy_headers", "idle", "open", "waiters")

    key: PoolKey
    proxy_headers: Dict[str, str]
    idle: List[_Connection]
    open: int
    waiters: Deque[asyncio.Future[None]]

    def __init__(self, key: PoolKey, proxy_headers: Dict[str, str]) -> None:
        self.key = key
        self.proxy_headers = proxy_headers
        self.idle = []
        self.open = 0
        self.waiters = deque()



class _Body(BodyFraming):
    """Reads one response body from a connection, as it is framed (the sync transport's twin)."""

    __slots__ = ()

    connection: _Connection

    async def read(self, amount: int) -> bytes:
        """Up to ``amount`` bytes; b"" at the end of the body."""
        if self.done:
            return b""
        connection = self.connection
        if self.chunked:
            if self.remaining == 0 and not self.start_chunk(await connection.read_until(b"\r\n")):
                while await connection.read_until(b"\r\n") != b"\r\n":
                    pass  # trailers: read and dropped
                self.done = True
                return b""
            # in a chunk: remaining is the number start_chunk set
            data = self.took(await connection.read_some(
                min(amount, self.remaining)))  # type: ignore[type-var, arg-type]
            if self.remaining == 0:
                self.end_chunk(await connection.read_exactly(2))
            return data
        if self.remaining is None:
            return self.took_to_end(await connection.read_some(amount))
        return self.took(await connection.read_some(min(amount, self.remaining)))


class AsyncResponseStream:
    """A streamed response body: ``await read(n)``, ``async for chunk in stream``, ``await aclose()``.

    The connection goes back to the pool once the body was read to its end, and is closed if the
    stream is closed early (or a read is cancelled). A body shorter than announced raises a
    TransportError. What the server sends ahead of the reads is buffered up to about 256 KiB; then
    the connection stops reading from its socket until the reads catch up.
    """

    def __init__(self, transport: AsyncHTTPTransport, pool: _Pool, connection: _Connection, response: Response,
                 body: _Body, method: str, url: str, decoder: Optional[ContentDecoder] = None) -> None:
        self._transport = transport
        self._pool = pool
        self._connection = connection
        self._response = response
        self._body: Optional[_Body] = body
        self._method = method
        self._url = url
        self._decoder = decoder

    async def read(self, amount: Optional[int] = None) -> bytes:
        """Up to ``amount`` bytes (everything left when None); b"" at the end. A compressed answer
        is decoded as it is read: ``amount`` counts decoded bytes."""
        if self._decoder is None:
            return await self._read_raw(amount)
        decoder = self._decoder
        parts: List[bytes] = []
        try:
            while amount != 0:
                if decoder.pending:
                    data = decoder.decode(b"", amount or 0)
                else:
                    raw = await self._read_raw(_CHUNK)
                    if not raw:
                        decoder.end()
                        break
                    data = decoder.decode(raw, amount or 0)
                if data:
                    if amount is not None:
                        return data
                    parts.append(data)
        except UndecodableBody as exc:
            self._abort()
            raise _after_sent_error(exc, self._method, self._url, self._transport.read_timeout) from None
        return b"".join(parts)

    async def _read_raw(self, amount: Optional[int]) -> bytes:
        body = self._body
        if body is None:
            return b""
        try:
            if amount is None:
                parts: List[bytes] = []
                while True:
                    chunk = await body.read(_CHUNK)
                    if not chunk:
                        break
                    parts.append(chunk)
                data = b"".join(parts)
            else:
                data = await body.read(amount)
        except _READ_FAILURES as exc:
            self._abort()
            raise _after_sent_error(exc, self._method, self._url, self._transport.read_timeout) from None
        except BaseException:
            self._abort()  # cancelled mid-read: the connection is in an unknown state
            raise
        if body.done:
            self._body = None
            self._transport._release(self._pool, self._connection, self._response, body.close)
        return data

    def __aiter__(self) -> AsyncResponseStream:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self.read(_CHUNK)
        if not chunk:
            raise StopAsyncIteration
        return chunk

    def _abort(self) -> None:
        if self._body is not None:
            self._body = None
            self._transport._discard(self._pool, self._connection)

    def close(self) -> None:
        """Close the stream (and its connection, unless the body was read to its end)."""
        self._abort()

    async def aclose(self) -> None:
        self._abort()

    async def __aenter__(self) -> AsyncResponseStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._abort()


class AsyncHTTPTransport:
    """Sends Requests over pooled keep-alive connections, at most ``max_connections`` per origin.

    ``ssl_context``: the context for https (default: verified, system CAs). ``proxies``: a dict
    like ``urllib.request.getproxies()`` (default: from the environment); ``{}`` disables proxies.
    ``max_body_size``: the largest buffered response body accepted, in bytes. The pool belongs to
    the event loop that used it last: used from another loop, it starts over with new connections.
    """

    def __init__(self, *, ssl_context: Optional[SSLContext] = None, connect_timeout: float = 10.0,
                 read_timeout: float = 60.0, proxies: Optional[Mapping[str, str]] = None, max_connections: int = 10,
                 max_body_size: int = 512 * 1024 * 1024, clock: Callable[[], float] = time.monotonic) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.ssl_context = ssl_context
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.proxies = proxies_from(proxies, os.environ)
        self.max_connections = max_connections
        self.max_body_size = max_body_size
        self._clock = clock
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._pools: Dict[PoolKey, _Pool] = {}  # pool key -> _Pool
        # (scheme, netloc) -> (pool, whether the target is absolute, proxy headers)
        self._routes: Dict[Tuple[str, str], Route] = {}
        self.connections_opened = 0
        self.peak_open = 0

    def __repr__(self) -> str:
        return "<AsyncHTTPTransport connect_timeout=%s read_timeout=%s max_connections=%d>" % (
            self.connect_timeout, self.read_timeout, self.max_connections)

    def stats(self) -> Dict[str, int]:
        """Counts of connections: ``opened`` in all, ``open`` now, ``idle`` now, ``peak_open`` (the
        most open at once in one origin's pool), and ``waiting`` callers."""
        pools = self._pools.values()
        return {"opened": self.connections_opened, "open": sum(p.open for p in pools),
                "idle": sum(len(p.idle) for p in pools), "peak_open": self.peak_open,
                "waiting": sum(len(p.waiters) for p in pools)}

    # --- routing --------------------------------------------------------------------------
    def _route(self, scheme: str, netloc: str) -> Route:
        route = self._routes.get((scheme, netloc))
        if route is None:
            host, port, proxy, proxy_headers = resolve_route(scheme, netloc, self.proxies)
            key = (scheme, host, port, proxy)
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = _Pool(key, proxy_headers)
            absolute = scheme == "http" and proxy is not None
            route = self._routes[(scheme, netloc)] = (pool, absolute, proxy_headers if absolute else {},
                                                      host_header(scheme, host, port))
        return route

    def _check_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # connections belong to the loop that opened them: a new loop (a second asyncio.run) starts over
            for pool in self._pools.values():
                for connection in pool.idle:
                    connection.abort()
            self._pools = {}
            self._routes = {}
            self._loop = loop
        return loop

    # --- the pool ---------------------------------------------------------------------------
    def _idle_connection(self, pool: _Pool) -> Optional[_Connection]:
        """An idle connection of ``pool`` that is still good (marked reused), or None."""
        idle = pool.idle
        if idle:
            now = self._clock()
            while idle:
                connection = idle.pop()
                if connection.usable_idle(now):
                    connection.reused = True
                    return connection
                connection.abort()
                pool.open -= 1
        return None

    async def _acquire(self, pool: _Pool, loop: asyncio.AbstractEventLoop, method: str,
                       url: str) -> Tuple[_Pool, _Connection]:
        """(pool, connection): an idle connection still good, a new one, or the next one freed."""
        woken = False
        while True:
            current = self._pools.get(pool.key)
            if current is not pool:  # dropped by aclose() while this caller waited
                pool = current or self._pools.setdefault(pool.key, _Pool(pool.key, pool.proxy_headers))
            connection = self._idle_connection(pool)
            if connection is not None:
                return pool, connection
            if pool.open < self.max_connections:
                pool.open += 1
                self.connections_opened += 1
                if pool.open > self.peak_open:
                    self.peak_open = pool.open
                try:
                    return pool, await self._connect(pool.key, loop, method, url)
                except BaseException:
                    pool.open -= 1
                    self._wake(pool)
                    raise
            waiter: asyncio.Future[None] = loop.create_future()
            if woken:
                pool.waiters.appendleft(waiter)  # it was its turn: keep its place at the front
            else:
                pool.waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake(pool)  # woken and cancelled at once: pass the turn on
                else:
                    try:
                        pool.waiters.remove(waiter)
                    except ValueError:
                        pass
                raise
            woken = True

    @staticmethod
    def _wake(pool: _Pool) -> None:
        waiters = pool.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _release(self, pool: _Pool, connection: _Connection, response: Response, close: bool) -> None:
        """Give a connection whose answer was read whole back to its pool (or close it)."""
        if close or not connection.reusable():  # closed, or bytes beyond the answer: out of step
            self._discard(pool, connection)
            return
        limit = connection.idle_limit
        if limit is None:  # the server's keep-alive timeout, read once per connection
            limit = connection.idle_limit = idle_limit(response)
        connection.reusable_until = self._clock() + limit
        if pool is self._pools.get(pool.key):
            pool.idle.append(connection)
            self._wake(pool)
        else:  # the pool was dropped meanwhile (aclose, or a new event loop)
            connection.abort()

    def _discard(self, pool: _Pool, connection: _Connection) -> None:
        connection.abort()
        pool.open -= 1
        self._wake(pool)

    async def aclose(self) -> None:
        """Close every idle connection. The transport can still be used afterwards."""
        pools, self._pools, self._routes = self._pools, {}, {}
        loop = asyncio.get_running_loop()
        closed = False
        for pool in pools.values():
            for connection in pool.idle:
                if connection.loop is loop:
                    connection.close()
                    closed = True
                else:
                    connection.abort()  # opened by an earlier event loop, maybe closed by now
            pool.idle = []
            pool.open = 0
            for waiter in pool.waiters:  # they find the pool gone and start over in the new one
                if not waiter.done():
                    waiter.set_result(None)
        if closed:
            await asyncio.sleep(0)  # let the transports finish closing their sockets

    # --- connecting -------------------------------------------------------------------------
    async def _connect(self, key: PoolKey, loop: asyncio.AbstractEventLoop, method: str, url: str) -> _Connection:
        scheme, host, port, proxy = key
        context = None
        if scheme == "https":
            if self.ssl_context is None:
                self.ssl_context = make_ssl_context()
            context = self.ssl_context
        read_timeout = self.read_timeout

        def connection() -> _Connection:
            return _Connection(loop, read_timeout)
        try:
            if proxy is None:
                opening = loop.create_connection(connection, host, port, ssl=context,
                                                 server_hostname=host if context else None)
            elif scheme == "http":
                opening = loop.create_connection(connection, proxy[0], proxy[1])
            else:
                opening = open_tunnel(host, port, proxy, self._pools[key].proxy_headers, lambda sock: (
                    loop.create_connection(connection, sock=sock, ssl=context, server_hostname=host)))
            _, opened = await asyncio.wait_for(opening, self.connect_timeout)
        except asyncio.TimeoutError:  # before OSError: it is builtins.TimeoutError (an OSError) on 3.11+
            raise connect_error(None, method, url, self.connect_timeout) from None
        except OSError as exc:
            raise connect_error(exc, method, url, self.connect_timeout) from None
        return opened

    # --- the seam ---------------------------------------------------------------------------
    async def send(self, request: Request) -> Response:
        """Send ``request`` and return its Response (body read, or streamed if ``request.stream``)."""
        loop = self._check_loop() if self._loop is not asyncio.get_running_loop() else self._loop
        method, url = request.method, request.url
        scheme, netloc, target = split_url(url)
        pool, absolute, proxy_headers, host = self._route(scheme, netloc)
        if absolute:
            target = url
        connection = self._idle_connection(pool) if pool is self._pools.get(pool.key) else None
        if connection is None:
            pool, connection = await self._acquire(pool, loop, method, url)
        try:
            head, body, chunked = request_head(method, target, host, request.headers, proxy_headers,
                                                request.body)
            try:
                whole = await self._write(connection, head, body, chunked, method, url)
            except TransportError:
                # a pooled connection the server closed just now: the request did not get out, so
                # a new connection may carry it, once, when the body can be sent again
                if not connection.reused or not (body is None or isinstance(body, bytes)):
                    raise
                connection.abort()
                self.connections_opened += 1
                connection = await self._connect(pool.key, loop, method, url)
                whole = await self._write(connection, head, body, chunked, method, url)
            try:
                status, headers, length, chunked_answer, close = await connection.read_head(method)
                decoder = content_decoder(headers) if length != 0 else None
                if decoder is not None:  # the length of the compressed bytes says nothing about the content
                    headers = headers.without("Content-Length")
                response = Response(status, headers, None, None, method, url)
                # an answer before the whole body went out: the connection is out of step after it
                framing = _Body(connection, length, chunked_answer, close or not whole)
                if request.stream and 200 <= status < 300:
                    response.stream = AsyncResponseStream(self, pool, connection, response, framing, method, url,
                                                          decoder)
                    if framing.done:
                        await response.stream.read(1)  # an empty body: the connection goes back at once
                    return response
                if length is not None and not chunked_answer:
                    response.body = await self._read_sized_body(connection, length, method, url)
                else:
                    response.body = await self._read_framed_body(framing, method, url)
                if decoder is not None:
                    response.body = decoder.decode_all(response.body, self.max_body_size)
            except _READ_FAILURES as exc:
                if not whole:  # closed with no answer before taking the whole body: nothing was acted on
                    raise send_error(exc, method, url) from None
                raise _after_sent_error(exc, method, url, self.read_timeout) from None
        except BaseException:
            # failed or cancelled: the connection's state is unknown, close it and free its place
            self._discard(pool, connection)
            raise
        self._release(pool, connection, response, framing.close)
        return response

    async def _write(self, connection: _Connection, head: bytes, body: Optional[Union[bytes, Streamed]],
                     chunked: bool, method: str, url: str) -> bool:
        """Send the request; False when the server answered before it took the whole body (the
        connection then closes once that answer is read)."""
        try:
            if body is None:
                connection.write(head)
            elif isinstance(body, bytes):
                connection.write(head + body if len(body) < _CHUNK else head)
                if len(body) >= _CHUNK:
                    connection.write(body)
            else:
                connection.write(head)
                if not await self._write_stream(connection, body, chunked):
                    return False
            return await connection.drain()
        except _ReadTimedOut:
            raise send_error(None, method, url) from None
        except OSError as exc:
            # the request did not get out whole: the server cannot have acted on it
            raise send_error(exc, method, url) from None

    @staticmethod
    async def _write_stream(connection: _Connection, body: Streamed, chunked: bool) -> bool:
        """Send a streamed body; False when the server answered before it took all of it."""
        if hasattr(body, "__aiter__"):
            async for chunk in body:
                if not await _write_chunk(connection, chunk, chunked):
                    return False
        else:  # an iterable of chunks (a binary file object is one: its lines)
            for chunk in body:  # type: ignore[union-attr]
                if not await _write_chunk(connection, chunk, chunked):
                    return False
        if chunked:
            connection.write(LAST_CHUNK)
        return True

    async def _read_sized_body(self, connection: _Connection, length: int, method: str, url: str) -> bytes:
        """A body of ``length`` bytes (Content-Length), read whole."""
        if length > self.max_body_size:
            raise too_large_error(method, url, self.max_body_size, length)
        if len(connection.buffer) >= length:  # the common case: it came with the head
            return connection.take(length)
        body = await connection.read_exactly(length)
        if len(body) < length:
            raise CutShort(len(body), length - len(body))
        return body

    async def _read_framed_body(self, framing: _Body, method: str, url: str) -> bytes:
        """A chunked body, or one that runs to the end of the connection, read whole."""
        parts: List[bytes] = []
        size = 0
        while True:
            chunk = await framing.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > self.max_body_size:
                raise too_large_error(method, url, self.max_body_size)
            parts.append(chunk)
        return b"".join(parts)


async def _write_chunk(connection: _Connection, chunk: Chunk, chunked: bool) -> bool:
    """One chunk of a streamed request body, framed when the body goes chunked; then wait while
    the socket's write buffer is full."""
    if connection.answered():
        return False
    chunk = encode_chunk(chunk)
    if not len(chunk):
        return True  # an empty chunk would end a chunked body
    connection.write(frame_chunk(chunk) if chunked else chunk)
    return await connection.drain()
