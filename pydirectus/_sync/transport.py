"""The sync transport: the one seam where bytes meet a socket.

``HTTPTransport.send(request) -> Response`` with a keep-alive pool per origin, safe to share across
threads; separate connect and read timeouts; TLS verified by default; HTTP(S)_PROXY and NO_PROXY
honoured the way urllib honours them. ``open_socket`` opens the connections, the realtime sockets'
too. Messages are written and read with ``_core/http11.py`` (``http.client`` parses headers with
the ``email`` package, several times the CPU of the rest of a request).

Failures become TransportErrors that say whether the request may have reached the server:
failing to connect or to write the request is ``may_have_been_processed=False``; anything after
the request was written is True; a body shorter than its Content-Length, or a broken chunked
body, raises.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time

from ..errors import TransportError
from .._core.http11 import (HEAD_LIMIT, LAST_CHUNK, BodyFraming, ContentDecoder, CutShort, HeadTooLarge,
                            ProtocolFailure, UndecodableBody, content_decoder,
                            after_sent_error, connect_error, encode_chunk, frame_chunk, host_header, idle_limit,
                            parse_head, proxies_from, read_timeout_error, request_head, resolve_route, send_error,
                            split_url, too_large_error, tunnel_answer, tunnel_request)
from .._core.records import Response

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from socket import socket as Socket
    from ssl import SSLContext
    from typing import Callable, Dict, Iterator, List, Mapping, Optional, Tuple, Union

    from .._core.http11 import Address, Bytes, PoolKey, Proxy, Streamed
    from .._core.records import Request

    from .._core.realtime import RealtimePlan

    Route = Tuple[PoolKey, bool, Dict[str, str], str]  # see HTTPTransport._route
    # where a realtime socket goes: (host, port, proxy (host, port) or None, proxy headers, SSL context or None)
    SocketRoute = Tuple[str, int, Optional[Proxy], Dict[str, str], Optional[SSLContext]]

__all__ = ["HTTPTransport", "make_ssl_context", "open_socket", "socket_route", "keep_alive"]

_CHUNK = 64 * 1024
_SEND_SIZE = 1024 * 1024  # most one send() of a large body takes at once


def make_ssl_context(verify: bool = True, cafile: Optional[str] = None) -> SSLContext:
    """An explicit SSL context: verification on unless ``verify`` is False; ``cafile`` adds a CA file."""
    import ssl
    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=cafile)


def open_socket(host: str, port: int, timeout: float, proxy: Optional[Proxy] = None,
                proxy_headers: Optional[Mapping[str, str]] = None, context: Optional[SSLContext] = None) -> Socket:
    """A blocking socket connected to ``host:port``: through a CONNECT tunnel of the HTTP proxy
    ``proxy`` (``(host, port)``; ``proxy_headers`` go with the CONNECT) when there is one, then
    TLS when there is a ``context``; TCP_NODELAY on, as http.client sets it. Each step may take
    ``timeout``, still the socket's timeout when it is returned. The socket is closed if anything
    fails; a proxy that refuses raises ConnectionError. The transport's connections and the
    realtime sockets open with this."""
    address: Address = proxy if proxy is not None else (host, port)
    sock = socket.create_connection(address, timeout)
    try:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # a system without it
            pass
        if proxy is not None:
            sock.sendall(tunnel_request(host, port, proxy_headers or {}))
            received = b""
            while True:  # the proxy says nothing more before we speak through it
                data = sock.recv(4096)
                received += data
                if tunnel_answer(received, host, port, ended=not data):
                    break
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise
    return sock


def socket_route(plan: RealtimePlan) -> SocketRoute:
    """Where the realtime sockets of ``plan`` go, as the client's REST requests do:
    ``(host, port, proxy, proxy_headers, ssl_context)``. ``proxy`` is the ``(host, port)`` of the
    HTTP proxy to tunnel through with CONNECT (a WebSocket is tunnelled for ws:// too), or None;
    ``ssl_context`` is the client's for wss://, None for ws://. Both rooms' sockets go by it."""
    from urllib.parse import urlsplit
    settings = plan.connection_settings
    parts = urlsplit(plan.url)
    proxies = proxies_from(settings.proxies, os.environ)
    host, port, proxy, proxy_headers = resolve_route(parts.scheme, parts.netloc, proxies)
    context = None
    if parts.scheme == "https":
        context = settings.ssl_context or make_ssl_context()
    return host, port, proxy, proxy_headers, context


def keep_alive(sock: Socket) -> None:
    """TCP keepalive on a realtime socket: a fallback probe for servers whose heartbeat is off
    (the kernel notices a dead peer)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, name):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
            except OSError:
                pass


def _after_sent_error(exc: BaseException, method: str, url: str, read_timeout: float) -> TransportError:
    """``after_sent_error``, a socket's timeout being the read timeout."""
    if isinstance(exc, socket.timeout):
        return read_timeout_error(method, url, read_timeout)
    return after_sent_error(exc, method, url)


def _chunks_of(body: Streamed) -> Iterator[Bytes]:
    """The non-empty chunks of a streamed request body: an iterable of chunks or a file object
    (a blocking read)."""
    read = getattr(body, "read", None)
    if read is not None:
        while True:
            chunk = read(_CHUNK)
            if not chunk:
                return
            yield encode_chunk(chunk)
    for item in body:  # type: ignore[union-attr]  # not a file object (read is None): an iterable of chunks
        chunk = encode_chunk(item)
        if len(chunk):  # an empty chunk would end a chunked body
            yield chunk


# --- connections and answers -----------------------------------------------------------------

class _Connection:
    """One socket, and what was received on it beyond what was read so far."""

    __slots__ = ("sock", "buffer", "idle_limit")

    sock: Socket
    buffer: bytes
    idle_limit: Optional[float]

    def __init__(self, sock: Socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.idle_limit = None

    def read_until(self, separator: bytes) -> bytes:
        buffer = self.buffer
        searched = 0
        while True:
            end = buffer.find(separator, searched)
            if end >= 0:
                end += len(separator)
                self.buffer = buffer[end:]
                return buffer[:end]
            if len(buffer) > HEAD_LIMIT:
                raise HeadTooLarge()
            searched = max(0, len(buffer) - len(separator) + 1)
            data = self.sock.recv(_CHUNK)
            if not data:
                raise ConnectionResetError("the server closed the connection")
            buffer += data
            self.buffer = buffer

    def read_some(self, amount: int) -> bytes:
        buffer = self.buffer
        if buffer:
            self.buffer = buffer[amount:]
            return buffer[:amount]
        return self.sock.recv(amount)

    def read_exactly(self, amount: int) -> bytes:
        """``amount`` bytes, or fewer when the server closes the connection first."""
        data = self.read_some(amount)
        if len(data) == amount or not data:
            return data
        parts = [data]
        received = len(data)
        while received < amount:
            data = self.sock.recv(min(amount - received, 1024 * 1024))
            if not data:
                break
            parts.append(data)
            received += len(data)
        return b"".join(parts)

    def send_watching(self, data: Bytes) -> bool:
        """Send ``data`` unless the server answers (or closes) first: True when all of it went out.

        A server may refuse a request before reading its body (a 403 for a folder it cannot
        write, say) and stop reading; blocking in ``sendall`` would then last until it resets the
        connection, and its answer would be lost. So a large body goes out as the socket takes it,
        and the first byte of an answer stops it.
        """
        sock = self.sock
        view = memoryview(data)
        sent = 0
        timeout = sock.gettimeout()
        try:
            while sent < len(view):
                readable, writable, _ = select.select([sock], [sock], [], timeout)
                if readable:
                    return False
                if not writable:
                    raise socket.timeout("timed out")
                sent += sock.send(view[sent:sent + _SEND_SIZE])
        finally:
            view.release()
        return True

    def peer_closed(self) -> bool:
        """Whether an idle connection was closed by the server (or has stray bytes waiting)."""
        if self.buffer:
            return True
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def close(self) -> None:
        self.sock.close()


class _Body(BodyFraming):
    """Reads one response body from a connection, as it is framed."""

    __slots__ = ()

    connection: _Connection

    def read(self, amount: int) -> bytes:
        """Up to ``amount`` bytes; b"" at the end of the body."""
        if self.done or not amount:
            return b""
        connection = self.connection
        if self.chunked:
            if self.remaining == 0 and not self.start_chunk(connection.read_until(b"\r\n")):
                while connection.read_until(b"\r\n") != b"\r\n":
                    pass  # trailers: read and dropped
                self.done = True
                return b""
            # in a chunk: remaining is the number start_chunk set
            data = self.took(connection.read_some(min(amount, self.remaining)))  # type: ignore[type-var, arg-type]
            if self.remaining == 0:
                self.end_chunk(connection.read_exactly(2))
            return data
        if self.remaining is None:
            return self.took_to_end(connection.read_some(amount))
        return self.took(connection.read_some(min(amount, self.remaining)))


_READ_FAILURES = (OSError, ProtocolFailure)


class _ResponseStream:
    """A streamed response body: ``read(n)``, iteration by chunks, and ``close()``.

    The connection goes back to the pool once the body was read to its end, and is closed if the
    stream is closed early. A body shorter than announced raises a TransportError.
    """

    def __init__(self, transport: HTTPTransport, key: PoolKey, connection: _Connection, response: Response,
                 body: _Body, method: str, url: str, decoder: Optional[ContentDecoder] = None) -> None:
        self._transport = transport
        self._key = key
        self._connection = connection
        self._response = response
        self._body: Optional[_Body] = body
        self._method = method
        self._url = url
        self._decoder = decoder

    def read(self, amount: Optional[int] = None) -> bytes:
        """Up to ``amount`` bytes (everything left when None); b"" at the end. A compressed answer
        is decoded as it is read: ``amount`` counts decoded bytes."""
        if self._decoder is None:
            return self._read_raw(amount)
        decoder = self._decoder
        parts: List[bytes] = []
        try:
            while amount != 0:
                if decoder.pending:
                    data = decoder.decode(b"", amount or 0)
                else:
                    raw = self._read_raw(_CHUNK)
                    if not raw:
                        decoder.end()
                        break
                    data = decoder.decode(raw, amount or 0)
                if data:
                    if amount is not None:
                        return data
                    parts.append(data)
        except UndecodableBody as exc:
            self.close()
            raise _after_sent_error(exc, self._method, self._url, self._transport.read_timeout) from None
        return b"".join(parts)

    def _read_raw(self, amount: Optional[int]) -> bytes:
        body = self._body
        if body is None:
            return b""
        try:
            if amount is None:
                data = b"".join(iter(lambda: body.read(_CHUNK), b""))
            else:
                data = body.read(amount)
        except _READ_FAILURES as exc:
            self._abort()
            raise _after_sent_error(exc, self._method, self._url, self._transport.read_timeout) from None
        if body.done:
            self._finish(body)
        return data

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self.read(_CHUNK)
            if not chunk:
                return
            yield chunk

    def _finish(self, body: _Body) -> None:
        self._body = None
        self._transport._release(self._key, self._connection, self._response, body.close)

    def _abort(self) -> None:
        self._body = None
        self._connection.close()

    def close(self) -> None:
        if self._body is not None:
            self._abort()

    def __enter__(self) -> _ResponseStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class HTTPTransport:
    """Sends Requests over pooled keep-alive connections.

    ``ssl_context``: the context for https (default: verified, system CAs). ``proxies``: a dict
    like ``urllib.request.getproxies()`` (default: from the environment); ``{}`` disables proxies.
    ``max_body_size``: the largest buffered response body accepted, in bytes.
    """

    def __init__(self, *, ssl_context: Optional[SSLContext] = None, connect_timeout: float = 10.0,
                 read_timeout: float = 60.0, proxies: Optional[Mapping[str, str]] = None,
                 max_idle_per_origin: int = 10, max_body_size: int = 512 * 1024 * 1024,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ssl_context = ssl_context
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.proxies = proxies_from(proxies, os.environ)
        self.max_idle_per_origin = max_idle_per_origin
        self.max_body_size = max_body_size
        self._clock = clock
        self._idle: Dict[PoolKey, List[Tuple[_Connection, float]]] = {}  # pool key -> (connection, reusable_until)
        self._lock = threading.Lock()
        # (scheme, netloc) -> (pool key, whether the target is an absolute URL, headers for the
        # proxy that go with each request, Host header)
        self._routes: Dict[Tuple[str, str], Route] = {}
        # pool key -> headers for the CONNECT of its https proxy
        self._tunnel_headers: Dict[PoolKey, Dict[str, str]] = {}

    def __repr__(self) -> str:
        return "<HTTPTransport connect_timeout=%s read_timeout=%s>" % (self.connect_timeout, self.read_timeout)

    # --- routing --------------------------------------------------------------------------
    def _route(self, scheme: str, netloc: str) -> Route:
        """Pool key ``(scheme, host, port, proxy)``, whether the target must be absolute, the
        proxy's headers for each request, and the Host header."""
        route = self._routes.get((scheme, netloc))
        if route is None:
            host, port, proxy, proxy_headers = resolve_route(scheme, netloc, self.proxies)
            key = (scheme, host, port, proxy)
            absolute = scheme == "http" and proxy is not None
            self._tunnel_headers[key] = proxy_headers
            route = (key, absolute, proxy_headers if absolute else {}, host_header(scheme, host, port))
            self._routes[(scheme, netloc)] = route
        return route

    def _connect(self, key: PoolKey, method: str, url: str) -> _Connection:
        """A new connection to the pool key's origin (TLS, proxy tunnel: ``open_socket``)."""
        scheme, host, port, proxy = key
        try:
            if scheme == "https":
                if self.ssl_context is None:
                    self.ssl_context = make_ssl_context()
                sock = open_socket(host, port, self.connect_timeout, proxy, self._tunnel_headers[key],
                                   self.ssl_context)
            elif proxy is not None:  # http through a proxy: absolute-form requests to the proxy itself
                sock = open_socket(proxy[0], proxy[1], self.connect_timeout)
            else:
                sock = open_socket(host, port, self.connect_timeout)
        except socket.timeout:
            raise connect_error(None, method, url, self.connect_timeout) from None
        except OSError as exc:
            raise connect_error(exc, method, url, self.connect_timeout) from None
        sock.settimeout(self.read_timeout)
        return _Connection(sock)

    # --- the pool ---------------------------------------------------------------------------
    def _checkout(self, key: PoolKey) -> Optional[_Connection]:
        """An idle connection that is still good, or None."""
        now = self._clock()
        with self._lock:
            idle = self._idle.get(key)
            while idle:
                connection, reusable_until = idle.pop()
                if now < reusable_until and not connection.peer_closed():
                    return connection
                connection.close()
        return None

    def _release(self, key: PoolKey, connection: _Connection, response: Response, close: bool) -> None:
        """Give a connection whose answer was read whole back to its pool (or close it)."""
        if close or connection.buffer:  # bytes beyond the answer: the connection is out of step
            connection.close()
            return
        limit = connection.idle_limit
        if limit is None:  # the server's keep-alive timeout, read once per connection
            limit = connection.idle_limit = idle_limit(response)
        reusable_until = self._clock() + limit
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.max_idle_per_origin:
                idle.append((connection, reusable_until))
                return
        connection.close()

    def close(self) -> None:
        """Close every idle connection. The transport can still be used afterwards."""
        with self._lock:
            pools, self._idle = self._idle, {}
        for idle in pools.values():
            for connection, _ in idle:
                connection.close()

    # --- the seam ---------------------------------------------------------------------------
    def send(self, request: Request) -> Response:
        """Send ``request`` and return its Response (body read, or streamed if ``request.stream``)."""
        method, url = request.method, request.url
        scheme, netloc, target = split_url(url)
        key, absolute, proxy_headers, host = self._route(scheme, netloc)
        if absolute:
            target = url
        head, body, chunked = request_head(method, target, host, request.headers, proxy_headers, request.body)
        connection = self._checkout(key)
        if connection is None:
            connection = self._connect(key, method, url)
            whole = self._write(connection, head, body, chunked, method, url)
        else:
            try:
                whole = self._write(connection, head, body, chunked, method, url)
            except TransportError:
                # a pooled connection the server closed just now (after our check): the request did
                # not get out, so a new connection may carry it, once, when the body can be sent again
                if not (body is None or isinstance(body, bytes)):
                    raise
                connection = self._connect(key, method, url)
                whole = self._write(connection, head, body, chunked, method, url)
        try:
            while True:
                answer = parse_head(connection.read_until(b"\r\n\r\n"), method)
                if answer is not None:
                    break
            status, headers, length, chunked_answer, close = answer
            decoder = content_decoder(headers) if length != 0 else None
            if decoder is not None:  # the length of the compressed bytes says nothing about the content
                headers = headers.without("Content-Length")
            response = Response(status, headers, None, None, method, url)
            # an answer before the whole body went out: the connection is out of step after it
            framing = _Body(connection, length, chunked_answer, close or not whole)
            if request.stream and 200 <= status < 300:
                response.stream = _ResponseStream(self, key, connection, response, framing, method, url, decoder)
                if framing.done:  # an empty body: the connection goes back at once
                    response.stream.read(1)
                return response
            response.body = self._read_body(connection, framing, method, url)
            if decoder is not None:
                response.body = decoder.decode_all(response.body, self.max_body_size)
        except _READ_FAILURES as exc:
            connection.close()
            if not whole:  # closed with no answer before taking the whole body: nothing was acted on
                raise send_error(exc, method, url) from None
            raise _after_sent_error(exc, method, url, self.read_timeout) from None
        except BaseException:
            connection.close()
            raise
        self._release(key, connection, response, framing.close)
        return response

    @staticmethod
    def _write(connection: _Connection, head: bytes, body: Optional[Union[bytes, Streamed]], chunked: bool,
               method: str, url: str) -> bool:
        """Send the request; False when the server answered before it took the whole body (the
        connection then closes once that answer is read)."""
        sock = connection.sock
        try:
            if body is None:
                sock.sendall(head)
            elif isinstance(body, bytes):
                if len(body) < _CHUNK:
                    sock.sendall(head + body)
                else:
                    sock.sendall(head)
                    return connection.send_watching(body)
            else:
                sock.sendall(head)
                for chunk in _chunks_of(body):
                    if chunked:  # one send per chunk, framing included, as http.client does
                        chunk = frame_chunk(chunk)
                    if not connection.send_watching(chunk):
                        return False
                if chunked:
                    sock.sendall(LAST_CHUNK)
            return True
        except OSError as exc:
            # the request did not get out whole: the server cannot have acted on it
            connection.close()
            raise send_error(None if isinstance(exc, socket.timeout) else exc, method, url) from None
        except BaseException:
            connection.close()  # the body's own iterator failed midway: the connection is out of step
            raise

    def _read_body(self, connection: _Connection, framing: _Body, method: str, url: str) -> bytes:
        remaining = framing.remaining
        if not framing.chunked and remaining is not None:
            if remaining > self.max_body_size:
                connection.close()
                raise too_large_error(method, url, self.max_body_size, remaining)
            body = connection.read_exactly(remaining)
            if len(body) < remaining:
                raise CutShort(len(body), remaining - len(body))
            return body
        parts: List[bytes] = []
        size = 0
        while True:
            chunk = framing.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > self.max_body_size:
                connection.close()
                raise too_large_error(method, url, self.max_body_size)
            parts.append(chunk)
        return b"".join(parts)

