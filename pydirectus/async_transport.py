"""The async transport: HTTP/1.1 over asyncio streams, the async twin of ``transport.HTTPTransport``.

``AsyncHTTPTransport.send(request) -> Response`` (a coroutine) with a keep-alive pool per origin
bounded by ``max_connections`` (callers beyond the bound wait their turn), separate connect and
read timeouts, TLS verified by default, HTTP(S)_PROXY and NO_PROXY honoured like urllib does
(absolute-form requests to an http proxy, a CONNECT tunnel for https), streamed request bodies
(bytes, or an iterable or async iterable of chunks: sent with Content-Length when the headers give
it, chunked otherwise) and streamed responses (``AsyncResponseStream``).

The integrity rules are the sync transport's: failing to connect or to write the request is
``may_have_been_processed=False``; anything after the request was written is True; a body shorter
than its Content-Length, or a broken chunked body, raises; a body above ``max_body_size`` raises.
Cancelling a request closes its connection and frees its place in the pool.

The HTTP/1.1 messages are written and parsed by the small functions both transports share
(``transport.request_head``, ``parse_head``, ``Headers``): a status line, header lines, and a body
framed by Content-Length, by chunked encoding, or by the end of the connection; HEAD, 1xx, 204 and
304 answers have no body.
"""

import asyncio
import socket
import time
from collections import deque

from .errors import TimeoutError, TransportError
from .messages import Response
from .transport import (HEAD_LIMIT, BodyFraming, CutShort, Headers, HeadTooLarge, Malformed, ProtocolFailure,
                        _idle_limit, _split_url, after_sent_error, encode_chunk, host_header, make_ssl_context,
                        parse_head, request_head, resolve_route)

__all__ = ["AsyncHTTPTransport", "AsyncResponseStream", "Headers"]

# The StreamReader's buffer limit: the largest response head accepted, and how much it buffers
# before it stops reading from the socket.
_BUFFER_LIMIT = HEAD_LIMIT
_CHUNK = 64 * 1024


# --- failures inside a response, turned into TransportErrors by _after_sent_error -------------

class _ReadTimedOut(ProtocolFailure):
    """Put into a StreamReader by the read timer: the server stayed quiet for read_timeout."""


_READ_FAILURES = (OSError, EOFError, asyncio.LimitOverrunError, ProtocolFailure)


def _after_sent_error(exc, method, url):
    if isinstance(exc, _ReadTimedOut):
        return TimeoutError("read timed out", method=method, url=url, may_have_been_processed=True)
    if isinstance(exc, asyncio.LimitOverrunError):
        exc = HeadTooLarge()
    return after_sent_error(exc, method, url)


# --- connections and their pool ---------------------------------------------------------------

class _Connection:
    """One socket: its stream reader and writer, and reads that time out after ``read_timeout``.

    Reads time out when the server stays quiet for ``read_timeout``. Outside an exchange (a
    streamed body, read at the caller's pace) each read arms its own timer. During ``send``, the
    connection's watchdog timer watches instead: every completed read moves the moment of the last
    progress, and the watchdog, when it fires, times the read out or sets itself again for the time
    left. It outlives the exchange, so back-to-back requests share one timer instead of arming and
    cancelling one per read, which is a good part of an asyncio request's own cost.
    """

    __slots__ = ("reader", "writer", "loop", "read_timeout", "reused", "reusable_until", "idle_limit",
                 "_watchdog", "_watching", "_last_read")

    def __init__(self, reader, writer, loop, read_timeout):
        self.reader = reader
        self.writer = writer
        self.loop = loop
        self.read_timeout = read_timeout
        self.reused = False
        self.reusable_until = 0.0
        self.idle_limit = None
        self._watchdog = None  # the pending watchdog timer, if any
        self._watching = False  # whether ``send`` is reading an answer
        self._last_read = 0.0

    def _time_out(self):
        # wakes the pending read with this exception: cheaper than a wait_for task per read, and
        # the connection is closed right after, so the reader being left broken does not matter
        self.reader.set_exception(_ReadTimedOut())

    def watch(self):
        """Time the reads of one exchange with the watchdog (see the class docstring)."""
        if self.read_timeout is not None:
            self._last_read = self.loop.time()
            self._watching = True
            if self._watchdog is None:
                self._watchdog = self.loop.call_later(self.read_timeout, self._check_quiet)

    def unwatch(self):
        self._watching = False  # the watchdog finds it so when it fires, and stops

    def _check_quiet(self):
        self._watchdog = None
        if not self._watching:
            return
        quiet = self.loop.time() - self._last_read
        if quiet >= self.read_timeout:
            self._time_out()
        else:
            self._watchdog = self.loop.call_later(self.read_timeout - quiet, self._check_quiet)

    async def _timed(self, reading):
        if self._watching:
            data = await reading
            self._last_read = self.loop.time()
            return data
        if self.read_timeout is None:
            return await reading
        timer = self.loop.call_later(self.read_timeout, self._time_out)
        try:
            return await reading
        finally:
            timer.cancel()

    def read_until(self, separator):
        return self._timed(self.reader.readuntil(separator))

    def read_exactly(self, amount):
        return self._timed(self.reader.readexactly(amount))

    def read_some(self, amount):
        return self._timed(self.reader.read(amount))

    def usable_idle(self, now):
        """Whether this idle connection can carry another request (not expired, not closed by the
        peer, no stray bytes received: a body sent with a HEAD answer would be read as the next answer)."""
        reader = self.reader
        # StreamReader has no public way to ask for what it holds; _buffer is there on 3.8 to 3.13
        return (now < self.reusable_until and not reader.at_eof() and reader.exception() is None
                and not reader._buffer and not self.writer.transport.is_closing())

    def abort(self):
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        try:
            self.writer.transport.abort()
        except RuntimeError:  # its event loop is closed already: the socket went with it
            pass


class _Pool:
    """The connections of one origin: ``open`` counts those connected, connecting or in use."""

    __slots__ = ("key", "proxy_headers", "idle", "open", "waiters")

    def __init__(self, key, proxy_headers):
        self.key = key
        self.proxy_headers = proxy_headers
        self.idle = []
        self.open = 0
        self.waiters = deque()


class _Body(BodyFraming):
    """Reads one response body from a connection, as it is framed (the sync transport's twin)."""

    __slots__ = ()

    async def read(self, amount):
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
            data = self.took(await connection.read_some(min(amount, self.remaining)))
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
    TransportError.
    """

    def __init__(self, transport, pool, connection, response, body, method, url):
        self._transport = transport
        self._pool = pool
        self._connection = connection
        self._response = response
        self._body = body
        self._method = method
        self._url = url

    async def read(self, amount=None):
        """Up to ``amount`` bytes (everything left when None); b"" at the end."""
        body = self._body
        if body is None:
            return b""
        try:
            if amount is None:
                parts = []
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
            raise _after_sent_error(exc, self._method, self._url) from None
        except BaseException:
            self._abort()  # cancelled mid-read: the connection is in an unknown state
            raise
        if body.done:
            self._body = None
            self._transport._release(self._pool, self._connection, self._response, body.close)
        return data

    def __aiter__(self):
        return self

    async def __anext__(self):
        chunk = await self.read(_CHUNK)
        if not chunk:
            raise StopAsyncIteration
        return chunk

    def _abort(self):
        if self._body is not None:
            self._body = None
            self._transport._discard(self._pool, self._connection)

    def close(self):
        """Close the stream (and its connection, unless the body was read to its end)."""
        self._abort()

    async def aclose(self):
        self._abort()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        self._abort()


class AsyncHTTPTransport:
    """Sends Requests over pooled keep-alive connections, at most ``max_connections`` per origin.

    ``ssl_context``: the context for https (default: verified, system CAs). ``proxies``: a dict
    like ``urllib.request.getproxies()`` (default: from the environment); ``{}`` disables proxies.
    ``max_body_size``: the largest buffered response body accepted, in bytes. The pool belongs to
    the event loop that used it last: used from another loop, it starts over with new connections.
    """

    def __init__(self, *, ssl_context=None, connect_timeout=10.0, read_timeout=60.0, proxies=None,
                 max_connections=10, max_body_size=512 * 1024 * 1024, clock=time.monotonic):
        import urllib.request
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.ssl_context = ssl_context
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.proxies = urllib.request.getproxies_environment() if proxies is None else dict(proxies)
        self._proxy_bypass = urllib.request.proxy_bypass_environment
        self.max_connections = max_connections
        self.max_body_size = max_body_size
        self._clock = clock
        self._loop = None
        self._pools = {}  # pool key -> _Pool
        self._routes = {}  # (scheme, netloc) -> (pool, whether the target is absolute, proxy headers)
        self.connections_opened = 0
        self.peak_open = 0

    def __repr__(self):
        return "<AsyncHTTPTransport connect_timeout=%s read_timeout=%s max_connections=%d>" % (
            self.connect_timeout, self.read_timeout, self.max_connections)

    def stats(self):
        """Counts of connections: ``opened`` in all, ``open`` now, ``idle`` now, ``peak_open`` (the
        most open at once in one origin's pool), and ``waiting`` callers."""
        pools = self._pools.values()
        return {"opened": self.connections_opened, "open": sum(p.open for p in pools),
                "idle": sum(len(p.idle) for p in pools), "peak_open": self.peak_open,
                "waiting": sum(len(p.waiters) for p in pools)}

    # --- routing --------------------------------------------------------------------------
    def _route(self, scheme, netloc):
        route = self._routes.get((scheme, netloc))
        if route is None:
            host, port, proxy, proxy_headers = resolve_route(scheme, netloc, self.proxies, self._proxy_bypass)
            key = (scheme, host, port, proxy)
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = _Pool(key, proxy_headers)
            absolute = scheme == "http" and proxy is not None
            route = self._routes[(scheme, netloc)] = (pool, absolute, proxy_headers if absolute else {},
                                                      host_header(scheme, host, port))
        return route

    def _check_loop(self):
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # streams belong to the loop that opened them: a new loop (a second asyncio.run) starts over
            for pool in self._pools.values():
                for connection in pool.idle:
                    connection.abort()
            self._pools = {}
            self._routes = {}
            self._loop = loop
        return loop

    # --- the pool ---------------------------------------------------------------------------
    def _idle_connection(self, pool):
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

    async def _acquire(self, pool, loop, method, url):
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
            waiter = loop.create_future()
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
    def _wake(pool):
        waiters = pool.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _release(self, pool, connection, response, close):
        """Give a connection whose answer was read whole back to its pool (or close it)."""
        reader = connection.reader
        if close or reader.at_eof() or reader.exception() is not None or connection.writer.transport.is_closing():
            self._discard(pool, connection)
            return
        limit = connection.idle_limit
        if limit is None:  # the server's keep-alive timeout, read once per connection
            limit = connection.idle_limit = _idle_limit(response)
        connection.reusable_until = self._clock() + limit
        if pool is self._pools.get(pool.key):
            pool.idle.append(connection)
            self._wake(pool)
        else:  # the pool was dropped meanwhile (aclose, or a new event loop)
            connection.abort()

    def _discard(self, pool, connection):
        connection.abort()
        pool.open -= 1
        self._wake(pool)

    async def aclose(self):
        """Close every idle connection. The transport can still be used afterwards."""
        pools, self._pools, self._routes = self._pools, {}, {}
        loop = asyncio.get_running_loop()
        closed = False
        for pool in pools.values():
            for connection in pool.idle:
                if connection.loop is loop:
                    connection.writer.close()
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
    async def _connect(self, key, loop, method, url):
        scheme, host, port, proxy = key
        context = None
        if scheme == "https":
            if self.ssl_context is None:
                self.ssl_context = make_ssl_context()
            context = self.ssl_context
        try:
            if proxy is None:
                opening = asyncio.open_connection(host, port, ssl=context, server_hostname=host if context else None,
                                                  limit=_BUFFER_LIMIT)
            elif scheme == "http":
                opening = asyncio.open_connection(proxy[0], proxy[1], limit=_BUFFER_LIMIT)
            else:
                opening = self._open_tunnel(loop, key, context)
            reader, writer = await asyncio.wait_for(opening, self.connect_timeout)
        except asyncio.TimeoutError:  # before OSError: it is builtins.TimeoutError (an OSError) on 3.11+
            raise TimeoutError("connect timed out after %s s" % self.connect_timeout, method=method,
                               url=url) from None
        except (OSError, Malformed) as exc:
            raise TransportError("cannot connect: %s" % (exc,), method=method, url=url) from None
        return _Connection(reader, writer, loop, self.read_timeout)

    async def _open_tunnel(self, loop, key, context):
        """A TLS stream to the origin through an HTTP proxy's CONNECT tunnel."""
        _, host, port, (proxy_host, proxy_port) = key
        addresses = await loop.getaddrinfo(proxy_host, proxy_port, type=socket.SOCK_STREAM)
        sock = None
        failure = OSError("no address for the proxy %s" % proxy_host)
        for family, kind, protocol, _, address in addresses:
            sock = socket.socket(family, kind, protocol)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, address)
                break
            except OSError as exc:
                sock.close()
                sock, failure = None, exc
        if sock is None:
            raise failure
        try:
            authority = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
            lines = ["CONNECT %s HTTP/1.1" % authority, "Host: %s" % authority]
            lines += ["%s: %s" % item for item in self._pools[key].proxy_headers.items()]
            await loop.sock_sendall(sock, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            answer = b""
            while b"\r\n\r\n" not in answer:
                data = await loop.sock_recv(sock, 4096)
                if not data or len(answer) > _BUFFER_LIMIT:
                    raise Malformed("the proxy closed the connection during CONNECT")
                answer += data
            status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
            parts = status_line.split(" ", 2)
            if len(parts) < 2 or parts[1] != "200":
                raise OSError("the proxy refused to tunnel to %s: %s" % (authority, status_line))
            return await asyncio.open_connection(sock=sock, ssl=context, server_hostname=host, limit=_BUFFER_LIMIT)
        except BaseException:
            sock.close()
            raise

    # --- the seam ---------------------------------------------------------------------------
    async def send(self, request):
        """Send ``request`` and return its Response (body read, or streamed if ``request.stream``)."""
        loop = self._check_loop() if self._loop is not asyncio.get_running_loop() else self._loop
        method, url = request.method, request.url
        scheme, netloc, target = _split_url(url)
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
                await self._write(connection, head, body, chunked, method, url)
            except TransportError:
                # a pooled connection the server closed just now: the request did not get out, so
                # a new connection may carry it, once, when the body can be sent again
                if not connection.reused or not (body is None or isinstance(body, bytes)):
                    raise
                connection.abort()
                self.connections_opened += 1
                connection = await self._connect(pool.key, loop, method, url)
                await self._write(connection, head, body, chunked, method, url)
            connection.watch()
            try:
                status, headers, framing = await _read_head(connection, method)
                response = Response(status, headers, None, None, method, url)
                if request.stream and 200 <= status < 300:
                    connection.unwatch()  # the body is read at the caller's pace
                    response.stream = AsyncResponseStream(self, pool, connection, response, framing, method, url)
                    if framing.done:
                        await response.stream.read(1)  # an empty body: the connection goes back at once
                    return response
                response.body = await self._read_body(connection, framing, method, url)
            except _READ_FAILURES as exc:
                raise _after_sent_error(exc, method, url) from None
            finally:
                connection.unwatch()
        except BaseException:
            # failed or cancelled: the connection's state is unknown, close it and free its place
            self._discard(pool, connection)
            raise
        self._release(pool, connection, response, framing.close)
        return response

    async def _write(self, connection, head, body, chunked, method, url):
        writer = connection.writer
        try:
            if body is None:
                writer.write(head)
            elif isinstance(body, bytes):
                writer.write(head + body if len(body) < 65536 else head)
                if len(body) >= 65536:
                    writer.write(body)
                    await self._drain(writer)
            else:
                writer.write(head)
                await self._write_stream(writer, body, chunked)
            transport = writer.transport
            # what drain() waits for: a full write buffer, or a connection lost (it raises then)
            if transport.get_write_buffer_size() or transport.is_closing() or connection.reader.exception():
                await writer.drain()
        except asyncio.TimeoutError:
            raise TimeoutError("timed out sending the request", method=method, url=url) from None
        except (OSError, _ReadTimedOut) as exc:
            # the request did not get out whole: the server cannot have acted on it
            raise TransportError("connection lost while sending the request: %s" % (exc or type(exc).__name__),
                                 method=method, url=url) from None

    async def _drain(self, writer):
        await asyncio.wait_for(writer.drain(), self.read_timeout)

    async def _write_stream(self, writer, body, chunked):
        if hasattr(body, "__aiter__"):
            async for chunk in body:
                await self._write_chunk(writer, chunk, chunked)
        else:
            for chunk in body:
                await self._write_chunk(writer, chunk, chunked)
        if chunked:
            writer.write(b"0\r\n\r\n")

    async def _write_chunk(self, writer, chunk, chunked):
        chunk = encode_chunk(chunk)
        if not len(chunk):
            return  # an empty chunk would end a chunked body
        if chunked:
            writer.write(b"%x\r\n" % len(chunk))
            writer.write(chunk)
            writer.write(b"\r\n")
        else:
            writer.write(chunk)
        await self._drain(writer)

    async def _read_body(self, connection, framing, method, url):
        remaining = framing.remaining
        if not framing.chunked and remaining is not None:
            if remaining > self.max_body_size:
                raise TransportError("the answer is %d bytes, above max_body_size (%d)"
                                     % (remaining, self.max_body_size), method=method, url=url,
                                     may_have_been_processed=True)
            if remaining == 0:
                return b""
            if remaining <= _CHUNK:  # the common case: one read
                try:
                    return await connection.read_exactly(remaining)
                except asyncio.IncompleteReadError as exc:
                    raise CutShort(len(exc.partial), remaining - len(exc.partial)) from None
        parts = []
        size = 0
        while True:
            chunk = await framing.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > self.max_body_size:
                raise TransportError("the answer is larger than max_body_size (%d bytes)" % self.max_body_size,
                                     method=method, url=url, may_have_been_processed=True)
            parts.append(chunk)
        return b"".join(parts)


async def _read_head(connection, method):
    """The status, Headers and body framing of the next answer (1xx answers skipped)."""
    while True:
        answer = parse_head(await connection.read_until(b"\r\n\r\n"), method)
        if answer is not None:
            status, headers, length, chunked, close = answer
            return status, headers, _Body(connection, length, chunked, close)
