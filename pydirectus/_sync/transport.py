"""The sync transport: the one seam where bytes meet a socket.

``HTTPTransport.send(request) -> Response`` with a keep-alive pool per origin
(``urllib.request.urlopen`` opens a new connection for every request), safe to share across
threads; separate connect and read timeouts; TLS verified by default; HTTP(S)_PROXY and NO_PROXY
honoured the way urllib honours them.

``http.client`` opens the connections (TCP, TLS, the CONNECT tunnel through a proxy); the requests
and answers on them are written and read here, with the small HTTP/1.1 parser both transports
share (``request_head``, ``parse_head``, ``Headers``): a status line, header lines, and a body
framed by Content-Length, by chunked encoding, or by the end of the connection. ``http.client``'s
own exchange parses headers with the ``email`` package and costs several times the CPU of the
rest of a request.

Failures become TransportErrors that say whether the request may have reached the server:
failing to connect or to write the request is ``may_have_been_processed=False``; anything after
the request was written is True; a body shorter than its Content-Length, or a broken chunked
body, raises.
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
import time
from urllib.parse import unquote, urlsplit

from ..errors import TimeoutError, TransportError
from .._core.records import Response

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from socket import socket as Socket
    from ssl import SSLContext
    from typing import AsyncIterable, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

    from .._core.records import Body, Chunk, Readable, Request

    Bytes = Union[bytes, bytearray, memoryview]  # a chunk of a request body, as it is sent
    # a request body that is not bytes, as request_head leaves it (the sync transport takes no async iterable)
    Streamed = Union[Iterable[Chunk], AsyncIterable[Chunk], Readable]
    Proxy = Tuple[str, int]  # (host, port) of an HTTP proxy
    PoolKey = Tuple[str, str, int, Optional[Proxy]]  # (scheme, host, port, proxy)
    Route = Tuple[PoolKey, bool, Dict[str, str], str]  # see HTTPTransport._route
    ParsedHead = Tuple[int, "Headers", Optional[int], bool, bool]  # see parse_head

__all__ = ["HTTPTransport", "Headers", "make_ssl_context", "resolve_route", "request_head", "parse_head"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Node (and so Directus) closes idle keep-alive connections after 5 s and says so in a
# Keep-Alive header; without one, assume this and never reuse a connection older than it.
_DEFAULT_IDLE_LIMIT = 4.0
_IDLE_MARGIN = 1.0
# The largest response head accepted (status line and headers).
HEAD_LIMIT = 128 * 1024
_CHUNK = 64 * 1024
_SEND_SIZE = 1024 * 1024  # most one send() of a large body takes at once
# http.client always sends a Content-Length with these methods, 0 without body: so do we
_LENGTH_REQUIRED = frozenset(("POST", "PUT", "PATCH"))


def proxies_from(proxies: Optional[Mapping[str, str]]) -> Dict[str, str]:
    """The proxies to route with (``resolve_route``): those given (``{}``: none), or, for None,
    HTTP(S)_PROXY and friends from the environment, as urllib reads them."""
    if proxies is not None:
        return dict(proxies)
    import urllib.request
    return urllib.request.getproxies_environment()


def resolve_route(scheme: str, netloc: str, proxies: Mapping[str, str]
                  ) -> Tuple[str, int, Optional[Proxy], Dict[str, str]]:
    """Where a URL's requests go: ``(host, port, proxy, proxy_headers)``, proxy being
    ``(host, port)`` of the HTTP proxy to use, or None; NO_PROXY (in ``proxies`` as "no", or the
    environment's) is honoured as urllib does. Both transports and the realtime sockets route
    with this."""
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("unsupported URL scheme %r: use http or https" % scheme)
    parts = urlsplit("//" + netloc)
    host, port = parts.hostname, parts.port or _DEFAULT_PORTS[scheme]
    if not host:
        raise ValueError("the URL has no host: %r" % netloc)
    proxy_url = proxies.get(scheme)
    import urllib.request
    # in urllib.request since Python 2, undocumented, and not in typeshed
    if not proxy_url or urllib.request.proxy_bypass_environment(host, proxies):  # type: ignore[attr-defined]
        return host, port, None, {}
    proxy = urlsplit(proxy_url if "://" in proxy_url else "http://" + proxy_url)
    headers: Dict[str, str] = {}
    if proxy.username is not None:
        import base64
        userpass = "%s:%s" % (unquote(proxy.username), unquote(proxy.password or ""))
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(userpass.encode()).decode()
    # a proxy URL without a host (proxy.hostname None) fails when it is connected to
    return host, port, (proxy.hostname, proxy.port or 80), headers  # type: ignore[return-value]


def host_header(scheme: str, host: str, port: int) -> str:
    """The Host header of a request to ``host``: the port only when it is not the scheme's default."""
    try:
        host.encode("ascii")
    except UnicodeEncodeError:  # an internationalized name goes as its punycode, as http.client sends it
        host = host.encode("idna").decode("ascii")
    header = host if ":" not in host else "[%s]" % host
    if port != _DEFAULT_PORTS[scheme]:
        header += ":%d" % port
    return header


def make_ssl_context(verify: bool = True, cafile: Optional[str] = None) -> SSLContext:
    """An explicit SSL context: verification on unless ``verify`` is False; ``cafile`` adds a CA file."""
    import ssl
    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=cafile)


# --- HTTP/1.1 messages, shared with the async transport ----------------------------------------

class Headers:
    """Response headers in the order and case received; ``get`` and ``in`` ignore case.

    ``get`` returns the first value of a repeated header, like ``http.client``'s; ``get_all`` all.
    """

    __slots__ = ("_items", "_first")

    def __init__(self, items: List[Tuple[str, str]]) -> None:
        self._items = items
        first: Dict[str, str] = {}
        for name, value in items:
            first.setdefault(name.lower(), value)
        self._first = first

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        return self._first.get(name.lower(), default)

    def get_all(self, name: str) -> List[str]:
        key = name.lower()
        return [value for item_name, value in self._items if item_name.lower() == key]

    def __getitem__(self, name: str) -> Optional[str]:
        return self._first.get(name.lower())  # None when absent, as http.client.HTTPMessage does

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._first

    def items(self) -> List[Tuple[str, str]]:
        return list(self._items)

    def keys(self) -> List[str]:
        return [name for name, _ in self._items]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return "Headers(%r)" % (self._items,)


class ProtocolFailure(Exception):
    """A failure inside an answer, turned into a TransportError by ``after_sent_error``."""


class Malformed(ProtocolFailure):
    pass


class CutShort(ProtocolFailure):
    def __init__(self, received: int, expected: Optional[int]) -> None:
        super().__init__(received, expected)
        self.received = received
        self.expected = expected


class HeadTooLarge(ProtocolFailure):
    pass


def read_timeout_error(method: str, url: str, read_timeout: float) -> TimeoutError:
    """The TimeoutError of a request sent whose answer did not come: it names the setting."""
    return TimeoutError("read timed out: no answer within read_timeout=%g s (the client's read_timeout= "
                        "argument sets it)" % read_timeout, method=method, url=url, may_have_been_processed=True)


def after_sent_error(exc: BaseException, method: str, url: str, read_timeout: float) -> TransportError:
    """The TransportError for a failure while reading an answer (the request was sent)."""
    if isinstance(exc, socket.timeout):
        return read_timeout_error(method, url, read_timeout)
    if isinstance(exc, CutShort):
        return TransportError("the answer was cut short: %d bytes read, %s more expected"
                              % (exc.received, exc.expected if exc.expected is not None else "some"),
                              method=method, url=url, may_have_been_processed=True)
    if isinstance(exc, Malformed):
        return TransportError("malformed answer: %s" % exc, method=method, url=url, may_have_been_processed=True)
    if isinstance(exc, HeadTooLarge):
        return TransportError("the answer's head is larger than %d bytes" % HEAD_LIMIT, method=method, url=url,
                              may_have_been_processed=True)
    return TransportError("connection lost before the answer was complete: %s" % (exc or type(exc).__name__),
                          method=method, url=url, may_have_been_processed=True)


def request_head(method: str, target: str, host: str, headers: Mapping[str, str], proxy_headers: Mapping[str, str],
                 body: Optional[Body]) -> Tuple[bytes, Optional[Union[bytes, Streamed]], bool]:
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
        lines.insert(1, "Host: " + host)
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


def parse_head(head: bytes, method: str) -> Optional[ParsedHead]:
    """``(status, Headers, length, chunked, close)`` of an answer's head (bytes up to its blank
    line), or None for an interim 1xx answer that the real one follows.

    ``length`` is the body's length: 0 when the answer has no body, None when it runs to the end
    of the connection (or is chunked); ``close``: the connection cannot carry another request.
    """
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit() or rest[3:4] not in ("", " "):
        raise Malformed("bad status line %r" % lines[0][:80])
    status = int(code)
    if 100 <= status < 200 and status != 101:
        return None  # 100 Continue and other interim answers
    items: List[Tuple[str, str]] = []
    for line in lines[1:-2]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise Malformed("bad header line %r" % line[:80])
        items.append((name, value.strip()))
    headers = Headers(items)
    option = (headers.get("Connection") or "").lower()
    # HTTP/1.0 closes unless it says keep-alive; a 101 hands the connection to another protocol
    close = "close" in option or status == 101 or (version == "HTTP/1.0" and "keep-alive" not in option)
    if method == "HEAD" or status in (204, 304) or status < 200:
        return status, headers, 0, False, close
    encoding = headers.get("Transfer-Encoding")
    if encoding is not None and "chunked" in encoding.lower():
        return status, headers, None, True, close
    length = headers.get("Content-Length")
    if length is not None:
        values = {value.strip() for value in length.split(",")}
        if len(values) != 1 or not next(iter(values)).isdigit():
            raise Malformed("bad Content-Length %r" % length)
        return status, headers, int(values.pop()), False, close
    return status, headers, None, False, True


def chunk_size(line: bytes) -> int:
    """The size a chunked body's size line announces (extensions ignored)."""
    try:
        size = int(line.split(b";", 1)[0].strip(), 16)
    except ValueError:
        raise Malformed("bad chunk size line %r" % line[:40]) from None
    if size < 0:
        raise Malformed("negative chunk size")
    return size


class BodyFraming:
    """Where one response body stands, as it is framed: ``remaining`` bytes of a Content-Length
    body or of the current chunk, or None for a body that runs until the server closes the
    connection. ``close``: the connection cannot carry another request after this answer.

    Both transports read bodies with it; their subclasses bring only the reads themselves.
    """

    __slots__ = ("connection", "remaining", "chunked", "close", "done", "received")

    connection: object  # the transport's own connection class (subclasses say which)
    remaining: Optional[int]
    chunked: bool
    close: bool
    done: bool
    received: int

    def __init__(self, connection: object, length: Optional[int], chunked: bool, close: bool) -> None:
        self.connection = connection
        self.remaining = 0 if chunked else length
        self.chunked = chunked
        self.close = close or (length is None and not chunked)
        self.done = length == 0 and not chunked
        self.received = 0

    def start_chunk(self, size_line: bytes) -> bool:
        """Take a chunk's size line; False for the last chunk (the trailers follow)."""
        size = chunk_size(size_line)
        self.remaining = size
        return size != 0

    def end_chunk(self, ending: bytes) -> None:
        if ending != b"\r\n":
            raise Malformed("a chunk does not end with CRLF")

    def took(self, data: bytes) -> bytes:
        """Count ``data``, read from a Content-Length body or a chunk; a cut body raises CutShort."""
        if not data:
            raise CutShort(self.received, self.remaining)
        self.remaining -= len(data)  # type: ignore[operator]  # a Content-Length body or a chunk: a number
        self.received += len(data)
        if not self.chunked:
            self.done = self.remaining == 0
        return data

    def took_to_end(self, data: bytes) -> bytes:
        """Count ``data``, read from a body that ends with the connection."""
        if not data:
            self.done = True
        self.received += len(data)
        return data


def encode_chunk(chunk: Chunk) -> Bytes:
    """A chunk of a streamed request body as bytes (str as http.client encodes it)."""
    return chunk.encode("iso-8859-1") if isinstance(chunk, str) else chunk


def _chunks_of(body: Streamed) -> Iterator[Bytes]:
    """The non-empty chunks of a streamed request body: an iterable of chunks or a file object."""
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
                 body: _Body, method: str, url: str) -> None:
        self._transport = transport
        self._key = key
        self._connection = connection
        self._response = response
        self._body: Optional[_Body] = body
        self._method = method
        self._url = url

    def read(self, amount: Optional[int] = None) -> bytes:
        """Up to ``amount`` bytes (everything left when None); b"" at the end."""
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
            raise after_sent_error(exc, self._method, self._url, self._transport.read_timeout) from None
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
        self.proxies = proxies_from(proxies)
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
        """A new connection to the pool key's origin; http.client opens it (TLS, proxy tunnel)."""
        scheme, host, port, proxy = key
        connect_host, connect_port = proxy if proxy else (host, port)
        if scheme == "https":
            if self.ssl_context is None:
                self.ssl_context = make_ssl_context()
            opener: http.client.HTTPConnection = http.client.HTTPSConnection(
                connect_host, connect_port, timeout=self.connect_timeout, context=self.ssl_context)
            if proxy:
                opener.set_tunnel(host, port, headers=self._tunnel_headers[key])
        else:
            opener = http.client.HTTPConnection(connect_host, connect_port, timeout=self.connect_timeout)
        try:
            opener.connect()
        except socket.timeout:
            opener.close()
            raise TimeoutError("connect timed out after %s s" % self.connect_timeout, method=method,
                               url=url) from None
        except (OSError, http.client.HTTPException) as exc:
            opener.close()
            raise TransportError("cannot connect: %s" % (exc,), method=method, url=url) from None
        opener.sock.settimeout(self.read_timeout)
        return _Connection(opener.sock)

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
            limit = connection.idle_limit = _idle_limit(response)
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
        scheme, netloc, target = _split_url(url)
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
            response = Response(status, headers, None, None, method, url)
            # an answer before the whole body went out: the connection is out of step after it
            framing = _Body(connection, length, chunked_answer, close or not whole)
            if request.stream and 200 <= status < 300:
                response.stream = _ResponseStream(self, key, connection, response, framing, method, url)
                if framing.done:  # an empty body: the connection goes back at once
                    response.stream.read(1)
                return response
            response.body = self._read_body(connection, framing, method, url)
        except _READ_FAILURES as exc:
            connection.close()
            if not whole:  # closed with no answer before taking the whole body: nothing was acted on
                raise TransportError("connection lost while sending the request: %s" % (exc,), method=method,
                                     url=url) from None
            raise after_sent_error(exc, method, url, self.read_timeout) from None
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
                        chunk = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
                    if not connection.send_watching(chunk):
                        return False
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
            return True
        except OSError as exc:
            # the request did not get out whole: the server cannot have acted on it
            connection.close()
            if isinstance(exc, socket.timeout):
                raise TimeoutError("timed out sending the request", method=method, url=url) from None
            raise TransportError("connection lost while sending the request: %s" % (exc,), method=method,
                                 url=url) from None
        except BaseException:
            connection.close()  # the body's own iterator failed midway: the connection is out of step
            raise

    def _read_body(self, connection: _Connection, framing: _Body, method: str, url: str) -> bytes:
        remaining = framing.remaining
        if not framing.chunked and remaining is not None:
            if remaining > self.max_body_size:
                connection.close()
                raise TransportError("the answer is %d bytes, above max_body_size (%d)"
                                     % (remaining, self.max_body_size), method=method, url=url,
                                     may_have_been_processed=True)
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
                raise TransportError("the answer is larger than max_body_size (%d bytes)" % self.max_body_size,
                                     method=method, url=url, may_have_been_processed=True)
            parts.append(chunk)
        return b"".join(parts)


def _split_url(url: str) -> Tuple[str, str, str]:
    """(scheme, netloc, path and query) of an absolute URL; plain string work on the hot path."""
    scheme, separator, remainder = url.partition("://")
    netloc, slash, rest = remainder.partition("/")
    if not separator or "?" in netloc or "#" in url:
        parts = urlsplit(url)
        return parts.scheme, parts.netloc, (parts.path or "/") + ("?" + parts.query if parts.query else "")
    return scheme, netloc, "/" + rest


def _idle_limit(response: Response) -> float:
    """How long the server keeps an idle connection open, less a safety margin."""
    keep_alive = response.headers.get("Keep-Alive")
    if keep_alive:
        for part in keep_alive.split(","):
            name, _, value = part.strip().partition("=")
            if name.lower() == "timeout" and value.strip().isdigit():
                return max(0.0, int(value) - _IDLE_MARGIN)
    return _DEFAULT_IDLE_LIMIT
