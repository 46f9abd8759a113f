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

The HTTP/1.1 parsing is deliberately small: a status line, header lines, and a body framed by
Content-Length, by chunked encoding, or by the end of the connection; HEAD, 1xx, 204 and 304
answers have no body.
"""

import asyncio
import socket
import time
from collections import deque

from .errors import TimeoutError, TransportError
from .messages import Response
from .transport import _idle_limit, _split_url, make_ssl_context, resolve_route

__all__ = ["AsyncHTTPTransport", "AsyncResponseStream", "Headers"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# The StreamReader's buffer limit: the largest response head accepted, and how much it buffers
# before it stops reading from the socket.
_BUFFER_LIMIT = 128 * 1024
_CHUNK = 64 * 1024
# http.client always sends a Content-Length with these methods, 0 without body: so do we
_LENGTH_REQUIRED = frozenset(("POST", "PUT", "PATCH"))


class Headers:
    """Response headers in the order and case received; ``get`` and ``in`` ignore case.

    ``get`` returns the first value of a repeated header, like ``http.client``'s; ``get_all`` all.
    """

    __slots__ = ("_items", "_first")

    def __init__(self, items):
        self._items = items
        first = {}
        for name, value in items:
            first.setdefault(name.lower(), value)
        self._first = first

    def get(self, name, default=None):
        return self._first.get(name.lower(), default)

    def get_all(self, name):
        key = name.lower()
        return [value for item_name, value in self._items if item_name.lower() == key]

    def __getitem__(self, name):
        return self._first.get(name.lower())  # None when absent, as http.client.HTTPMessage does

    def __contains__(self, name):
        return name.lower() in self._first

    def items(self):
        return list(self._items)

    def keys(self):
        return [name for name, _ in self._items]

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self._items)

    def __repr__(self):
        return "Headers(%r)" % (self._items,)


# --- failures inside a response, turned into TransportErrors by _after_sent_error -------------

class _ProtocolFailure(Exception):
    pass


class _ReadTimedOut(_ProtocolFailure):
    """Put into a StreamReader by the read timer: the server stayed quiet for read_timeout."""


class _Malformed(_ProtocolFailure):
    pass


class _CutShort(_ProtocolFailure):
    def __init__(self, received, expected):
        super().__init__(received, expected)
        self.received = received
        self.expected = expected


_READ_FAILURES = (OSError, EOFError, asyncio.LimitOverrunError, _ProtocolFailure)


def _after_sent_error(exc, method, url):
    if isinstance(exc, _ReadTimedOut):
        return TimeoutError("read timed out", method=method, url=url, may_have_been_processed=True)
    if isinstance(exc, _CutShort):
        return TransportError("the answer was cut short: %d bytes read, %s more expected"
                              % (exc.received, exc.expected if exc.expected is not None else "some"),
                              method=method, url=url, may_have_been_processed=True)
    if isinstance(exc, _Malformed):
        return TransportError("malformed answer: %s" % exc, method=method, url=url, may_have_been_processed=True)
    if isinstance(exc, asyncio.LimitOverrunError):
        return TransportError("the answer's head is larger than %d bytes" % _BUFFER_LIMIT, method=method, url=url,
                              may_have_been_processed=True)
    return TransportError("connection lost before the answer was complete: %s" % (exc or type(exc).__name__),
                          method=method, url=url, may_have_been_processed=True)


# --- connections and their pool ---------------------------------------------------------------

class _Connection:
    """One socket: its stream reader and writer, and reads that time out after ``read_timeout``."""

    __slots__ = ("reader", "writer", "loop", "read_timeout", "reused", "reusable_until", "idle_limit")

    def __init__(self, reader, writer, loop, read_timeout):
        self.reader = reader
        self.writer = writer
        self.loop = loop
        self.read_timeout = read_timeout
        self.reused = False
        self.reusable_until = 0.0
        self.idle_limit = None

    def _time_out(self):
        # wakes the pending read with this exception: cheaper than a wait_for task per read, and
        # the connection is closed right after, so the reader being left broken does not matter
        self.reader.set_exception(_ReadTimedOut())

    async def read_until(self, separator):
        if self.read_timeout is None:
            return await self.reader.readuntil(separator)
        timer = self.loop.call_later(self.read_timeout, self._time_out)
        try:
            return await self.reader.readuntil(separator)
        finally:
            timer.cancel()

    async def read_exactly(self, amount):
        if self.read_timeout is None:
            return await self.reader.readexactly(amount)
        timer = self.loop.call_later(self.read_timeout, self._time_out)
        try:
            return await self.reader.readexactly(amount)
        finally:
            timer.cancel()

    async def read_some(self, amount):
        if self.read_timeout is None:
            return await self.reader.read(amount)
        timer = self.loop.call_later(self.read_timeout, self._time_out)
        try:
            return await self.reader.read(amount)
        finally:
            timer.cancel()

    def usable_idle(self, now):
        """Whether this idle connection can carry another request (not expired, not closed by the peer)."""
        return (now < self.reusable_until and not self.reader.at_eof() and self.reader.exception() is None
                and not self.writer.transport.is_closing())

    def abort(self):
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


class _Body:
    """Reads one response body as it is framed: ``remaining`` bytes (Content-Length), chunked,
    or until the server closes the connection (``remaining`` None). ``close``: the connection
    cannot carry another request after this answer."""

    __slots__ = ("connection", "remaining", "chunked", "close", "done", "received")

    def __init__(self, connection, remaining, chunked, close):
        self.connection = connection
        self.remaining = remaining
        self.chunked = chunked
        self.close = close or (remaining is None and not chunked)
        self.done = remaining == 0 and not chunked
        self.received = 0

    async def read(self, amount):
        """Up to ``amount`` bytes; b"" at the end of the body."""
        if self.done:
            return b""
        connection = self.connection
        if self.chunked:
            if self.remaining == 0:
                line = await connection.read_until(b"\r\n")
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise _Malformed("bad chunk size line %r" % line[:40]) from None
                if size < 0:
                    raise _Malformed("negative chunk size")
                if size == 0:
                    while await connection.read_until(b"\r\n") != b"\r\n":
                        pass  # trailers: read and dropped
                    self.done = True
                    return b""
                self.remaining = size
            data = await connection.read_some(min(amount, self.remaining))
            if not data:
                raise _CutShort(self.received, self.remaining)
            self.remaining -= len(data)
            self.received += len(data)
            if self.remaining == 0 and await connection.read_exactly(2) != b"\r\n":
                raise _Malformed("a chunk does not end with CRLF")
            return data
        if self.remaining is None:
            data = await connection.read_some(amount)
            if not data:
                self.done = True
            self.received += len(data)
            return data
        data = await connection.read_some(min(amount, self.remaining))
        if not data:
            raise _CutShort(self.received, self.remaining)
        self.remaining -= len(data)
        self.received += len(data)
        self.done = self.remaining == 0
        return data


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
            # the Host header: the port only when it is not the scheme's default
            host_header = host if ":" not in host else "[%s]" % host
            if port != _DEFAULT_PORTS[scheme]:
                host_header += ":%d" % port
            route = self._routes[(scheme, netloc)] = (pool, absolute, proxy_headers if absolute else {},
                                                      host_header)
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
    async def _acquire(self, pool, loop, method, url):
        """(pool, connection): an idle connection still good, a new one, or the next one freed."""
        woken = False
        while True:
            current = self._pools.get(pool.key)
            if current is not pool:  # dropped by aclose() while this caller waited
                pool = current or self._pools.setdefault(pool.key, _Pool(pool.key, pool.proxy_headers))
            idle = pool.idle
            if idle:
                now = self._clock()
                while idle:
                    connection = idle.pop()
                    if connection.usable_idle(now):
                        connection.reused = True
                        return pool, connection
                    connection.abort()
                    pool.open -= 1
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
        except (OSError, _Malformed) as exc:
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
                    raise _Malformed("the proxy closed the connection during CONNECT")
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
        pool, absolute, proxy_headers, host_header = self._route(scheme, netloc)
        if absolute:
            target = url
        pool, connection = await self._acquire(pool, loop, method, url)
        try:
            head, body, chunked = _request_head(method, target, host_header, request.headers, proxy_headers,
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
            try:
                status, headers, framing = await _read_head(connection, method)
                response = Response(status, headers, None, None, method, url)
                if request.stream and 200 <= status < 300:
                    response.stream = AsyncResponseStream(self, pool, connection, response, framing, method, url)
                    if framing.done:
                        await response.stream.read(1)  # an empty body: the connection goes back at once
                    return response
                response.body = await self._read_body(connection, framing, method, url)
            except _READ_FAILURES as exc:
                raise _after_sent_error(exc, method, url) from None
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
        if isinstance(chunk, str):
            chunk = chunk.encode("iso-8859-1")  # as http.client encodes str chunks
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
                    raise _CutShort(len(exc.partial), remaining - len(exc.partial)) from None
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


def _request_head(method, target, host_header, headers, proxy_headers, body):
    """(head bytes, body, whether the body goes chunked): the request line and headers, and the
    body to send after them (bytes, an iterable of chunks, or None). Host, Content-Length and
    Transfer-Encoding are added when the caller did not set them, as http.client does."""
    lines = ["%s %s HTTP/1.1" % (method, target)]
    has_host = has_length = has_encoding = has_accept_encoding = False
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "host":
            has_host = True
        elif lowered == "content-length":
            has_length = True
        elif lowered == "transfer-encoding":
            has_encoding = True
        elif lowered == "accept-encoding":
            has_accept_encoding = True
        lines.append("%s: %s" % (name, value))
    if not has_host:
        lines.insert(1, "Host: " + host_header)
    if not has_accept_encoding:
        lines.append("Accept-Encoding: identity")
    for name, value in proxy_headers.items():
        lines.append("%s: %s" % (name, value))
    chunked = has_encoding  # a caller's Transfer-Encoding can only be chunked: the one framing we know
    if body is None:
        if method in _LENGTH_REQUIRED and not has_length:
            lines.append("Content-Length: 0")
    else:
        if isinstance(body, str):
            body = body.encode("iso-8859-1")
        elif isinstance(body, (bytearray, memoryview)):
            body = bytes(body)
        if isinstance(body, bytes):
            if not has_length:
                lines.append("Content-Length: %d" % len(body))
        elif not has_length and not has_encoding:
            lines.append("Transfer-Encoding: chunked")
            chunked = True
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1"), body, chunked


async def _read_head(connection, method):
    """The status, Headers and body framing of the next answer (1xx answers skipped)."""
    while True:
        head = await connection.read_until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit() or rest[3:4] not in ("", " "):
            raise _Malformed("bad status line %r" % lines[0][:80])
        status = int(code)
        if 100 <= status < 200 and status != 101:
            continue  # 100 Continue and other interim answers: the real one follows
        break
    items = []
    for line in lines[1:-2]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise _Malformed("bad header line %r" % line[:80])
        items.append((name, value.strip()))
    headers = Headers(items)
    option = (headers.get("Connection") or "").lower()
    # HTTP/1.0 closes unless it says keep-alive; a 101 hands the connection to another protocol
    close = "close" in option or status == 101 or (version == "HTTP/1.0" and "keep-alive" not in option)
    if method == "HEAD" or status in (204, 304) or status < 200:
        return status, headers, _Body(connection, 0, False, close)
    encoding = headers.get("Transfer-Encoding")
    if encoding is not None and "chunked" in encoding.lower():
        return status, headers, _Body(connection, 0, True, close)
    length = headers.get("Content-Length")
    if length is not None:
        values = {value.strip() for value in length.split(",")}
        if len(values) != 1 or not next(iter(values)).isdigit():
            raise _Malformed("bad Content-Length %r" % length)
        return status, headers, _Body(connection, int(values.pop()), False, close)
    return status, headers, _Body(connection, None, False, close)
