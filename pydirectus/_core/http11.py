"""HTTP/1.1 as bytes, for both transports and the realtime sockets: no socket, no clock.

Where a request goes (``proxies_from``, ``resolve_route``, ``host_header``), the request head
(``request_head``) and the chunked framing of a streamed body (``frame_chunk``), the answer's head
(``parse_head``, ``Headers``), the framing of its body (``BodyFraming``, ``chunk_size``) and its
content coding (``ContentDecoder``, ``content_decoder``: gzip and deflate, streamed), the
CONNECT tunnel's request and the check of the proxy's answer (``tunnel_request``,
``tunnel_answer``), and the failures inside an answer (``ProtocolFailure``) with the
TransportErrors they become (``after_sent_error``). The transports bring the reads and writes.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from ..errors import TimeoutError, TransportError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from typing import AsyncIterable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

    from .records import Body, Chunk, Readable, Response

    Bytes = Union[bytes, bytearray, memoryview]  # a chunk of a request body, as it is sent
    # a request body that is not bytes, as request_head leaves it (the sync transport takes no async iterable)
    Streamed = Union[Iterable[Chunk], AsyncIterable[Chunk], Readable]
    Address = Tuple[str, int]  # (host, port)
    Proxy = Address  # (host, port) of an HTTP proxy
    PoolKey = Tuple[str, str, int, Optional[Proxy]]  # (scheme, host, port, proxy)
    ParsedHead = Tuple[int, "Headers", Optional[int], bool, bool]  # see parse_head
    from zlib import _Decompress as Decompressor

__all__ = ["HEAD_LIMIT", "LAST_CHUNK", "ACCEPT_ENCODING", "Headers", "ProtocolFailure", "Malformed", "CutShort",
           "HeadTooLarge", "UndecodableBody", "DecodedTooLarge", "ContentDecoder", "content_decoder", "proxies_from", "resolve_route", "host_header", "split_url", "request_head", "frame_chunk",
           "encode_chunk", "parse_head", "chunk_size", "BodyFraming", "idle_limit", "tunnel_request",
           "tunnel_answer", "connect_error", "send_error", "too_large_error", "read_timeout_error",
           "after_sent_error"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Node (and so Directus) closes idle keep-alive connections after 5 s and says so in a
# Keep-Alive header; without one, assume this and never reuse a connection older than it.
_DEFAULT_IDLE_LIMIT = 4.0
_IDLE_MARGIN = 1.0
# The largest response head accepted (status line and headers), a proxy's answer to CONNECT too.
HEAD_LIMIT = 128 * 1024
# http.client always sends a Content-Length with these methods, 0 without body: so do we
_LENGTH_REQUIRED = frozenset(("POST", "PUT", "PATCH"))
# the end of a chunked body (no trailers)
LAST_CHUNK = b"0\r\n\r\n"


# --- where a request goes --------------------------------------------------------------------

def proxies_from(proxies: Optional[Mapping[str, str]], environ: Mapping[str, str]) -> Dict[str, str]:
    """The proxies to route with (``resolve_route``): those given (``{}``: none), or, for None,
    HTTP(S)_PROXY, NO_PROXY and friends from ``environ`` (the room passes ``os.environ``), read
    as ``urllib.request.getproxies_environment`` reads them: a lower-case name wins, and the
    upper-case HTTP_PROXY is ignored under CGI (REQUEST_METHOD set), where a client's ``Proxy:``
    header could have set it."""
    if proxies is not None:
        return dict(proxies)
    found: Dict[str, str] = {}
    for name, value in environ.items():
        if value and name[-6:].lower() == "_proxy":
            found[name[:-6].lower()] = value
    if "REQUEST_METHOD" in environ:
        found.pop("http", None)
    for name, value in environ.items():  # lower-case names last: they win
        if name[-6:] == "_proxy":
            if value:
                found[name[:-6].lower()] = value
            else:
                found.pop(name[:-6].lower(), None)
    return found


def _bypasses_proxy(host: str, no_proxy: Optional[str]) -> bool:
    """Whether NO_PROXY (comma-separated names, each matching itself and its subdomains; ``*``:
    every host) exempts ``host`` from the proxy, as urllib decides it."""
    if not no_proxy:
        return False
    if no_proxy.strip() == "*":
        return True
    host = host.lower()
    for name in no_proxy.split(","):
        name = name.strip().lstrip(".").lower()
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def resolve_route(scheme: str, netloc: str, proxies: Mapping[str, str]
                  ) -> Tuple[str, int, Optional[Proxy], Dict[str, str]]:
    """Where a URL's requests go: ``(host, port, proxy, proxy_headers)``, proxy being
    ``(host, port)`` of the HTTP proxy to use, or None; NO_PROXY (``proxies["no"]``, as
    ``proxies_from`` reads it) is honoured as urllib does. Both transports and the realtime
    sockets route with this."""
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("unsupported URL scheme %r: use http or https" % scheme)
    parts = urlsplit("//" + netloc)
    host, port = parts.hostname, parts.port or _DEFAULT_PORTS[scheme]
    if not host:
        raise ValueError("the URL has no host: %r" % netloc)
    proxy_url = proxies.get(scheme)
    if not proxy_url or _bypasses_proxy(host, proxies.get("no")):
        return host, port, None, {}
    proxy = urlsplit(proxy_url if "://" in proxy_url else "http://" + proxy_url)
    headers: Dict[str, str] = {}
    if proxy.username is not None:
        import base64
        userpass = "%s:%s" % (unquote(proxy.username), unquote(proxy.password or ""))
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(userpass.encode()).decode()
    # a proxy URL without a host (proxy.hostname None) fails when it is connected to
    return host, port, (proxy.hostname, proxy.port or 80), headers  # type: ignore[return-value]


def _authority_host(host: str) -> str:
    """``host`` as it goes in a Host header or a CONNECT target: an internationalized name as its
    punycode (as http.client sends it), an IPv6 address in brackets."""
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        host = host.encode("idna").decode("ascii")
    return host if ":" not in host else "[%s]" % host


def host_header(scheme: str, host: str, port: int) -> str:
    """The Host header of a request to ``host`` (http or https; a WebSocket's ws or wss goes as
    its http or https): the port only when it is not the scheme's default."""
    header = _authority_host(host)
    if port != _DEFAULT_PORTS[scheme]:
        header += ":%d" % port
    return header


def split_url(url: str) -> Tuple[str, str, str]:
    """(scheme, netloc, path and query) of an absolute URL; plain string work on the hot path."""
    scheme, separator, remainder = url.partition("://")
    netloc, slash, rest = remainder.partition("/")
    if not separator or "?" in netloc or "#" in url:
        parts = urlsplit(url)
        return parts.scheme, parts.netloc, (parts.path or "/") + ("?" + parts.query if parts.query else "")
    return scheme, netloc, "/" + rest


# --- the CONNECT tunnel ----------------------------------------------------------------------

def tunnel_request(host: str, port: int, proxy_headers: Mapping[str, str]) -> bytes:
    """The CONNECT request asking an HTTP proxy for a tunnel to ``host:port``; ``proxy_headers``
    (its Proxy-Authorization, say: ``resolve_route``'s) go with it."""
    authority = "%s:%d" % (_authority_host(host), port)
    lines = ["CONNECT %s HTTP/1.1" % authority, "Host: " + authority]
    lines += ["%s: %s" % header for header in proxy_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def tunnel_answer(received: bytes, host: str, port: int, ended: bool = False) -> bool:
    """Whether ``received``, all the proxy sent so far in answer to ``tunnel_request``, is its
    whole answer, accepting the tunnel to ``host:port`` (False: read more; ``ended``: the proxy
    closed the connection after it).

    Raises ConnectionError (an OSError: a failure to connect) when the proxy refused (any status
    but 2xx), closed the connection before its answer was whole, answered with something that is
    not an HTTP answer, a head larger than HEAD_LIMIT, or bytes after it (nothing may come
    through the tunnel before the client speaks).
    """
    end = received.find(b"\r\n\r\n")
    if end < 0:
        if ended:
            raise ConnectionError("the proxy closed the connection during CONNECT")
        if len(received) > HEAD_LIMIT:
            raise ConnectionError("the proxy's answer to CONNECT is larger than %d bytes" % HEAD_LIMIT)
        return False
    status_line = received.split(b"\r\n", 1)[0].decode("latin-1")
    version, _, rest = status_line.partition(" ")
    if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
        raise ConnectionError("the proxy answered CONNECT with %r" % status_line[:80])
    if rest[0] != "2":
        raise ConnectionError("the proxy refused to tunnel to %s:%d: %s" % (_authority_host(host), port, status_line))
    if len(received) > end + 4:
        raise ConnectionError("the proxy sent bytes through the tunnel before the request")
    return True


# --- requests --------------------------------------------------------------------------------

def request_head(method: str, target: str, host: str, headers: Mapping[str, str], proxy_headers: Mapping[str, str],
                 body: Optional[Body]) -> Tuple[bytes, Optional[Union[bytes, Streamed]], bool]:
    """(head bytes, body, whether the body goes chunked): the request line and headers, and the
    body to send after them (bytes, an iterable of chunks, or None). Host, Content-Length and
    Transfer-Encoding are added when the caller did not set them, as http.client does, and
    Accept-Encoding: ACCEPT_ENCODING (identity for a Range request) unless the caller set one."""
    lines = ["%s %s HTTP/1.1" % (method, target)]
    has_host = has_length = has_encoding = has_accept_encoding = has_range = False
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
        elif lowered == "range":
            has_range = True
        lines.append("%s: %s" % (name, value))
    if not has_host:
        lines.insert(1, "Host: " + host)
    if not has_accept_encoding:
        # a Range counts bytes of the stored file, which only an unencoded answer carries as they are
        lines.append("Accept-Encoding: identity" if has_range else "Accept-Encoding: " + ACCEPT_ENCODING)
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


def encode_chunk(chunk: Chunk) -> Bytes:
    """A chunk of a streamed request body as bytes (str as http.client encodes it)."""
    return chunk.encode("iso-8859-1") if isinstance(chunk, str) else chunk


def frame_chunk(chunk: Bytes) -> bytes:
    """A non-empty chunk of a chunked request body, framed (its size line and CRLF); the body
    ends with LAST_CHUNK."""
    return b"%x\r\n%s\r\n" % (len(chunk), chunk)


# --- answers ---------------------------------------------------------------------------------

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

    def without(self, name: str) -> Headers:
        """A copy without the header ``name`` (any case)."""
        key = name.lower()
        return Headers([item for item in self._items if item[0].lower() != key])

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


class UndecodableBody(ProtocolFailure):
    """A compressed body that cannot be decoded: corrupt, cut short, or in a coding not asked for."""


class DecodedTooLarge(ProtocolFailure):
    def __init__(self, max_body_size: int) -> None:
        super().__init__(max_body_size)
        self.max_body_size = max_body_size


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
    first = headers._first  # this module's own class: lower-case names, without a call per look-up
    option = (first.get("connection") or "").lower()
    # HTTP/1.0 closes unless it says keep-alive; a 101 hands the connection to another protocol
    close = "close" in option or status == 101 or (version == "HTTP/1.0" and "keep-alive" not in option)
    if method == "HEAD" or status in (204, 304) or status < 200:
        return status, headers, 0, False, close
    encoding = first.get("transfer-encoding")
    if encoding is not None and "chunked" in encoding.lower():
        return status, headers, None, True, close
    length = first.get("content-length")
    if length is not None:
        if length.isdigit():  # the common case: one plain number
            return status, headers, int(length), False, close
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


# --- content codings -------------------------------------------------------------------------

# What the client asks for (Accept-Encoding) and can undo: both are in zlib, in every Python.
ACCEPT_ENCODING = "gzip, deflate"
_GZIP_WBITS = 16 + 15   # a gzip header and trailer around deflate data
_ZLIB_WBITS = 15        # "deflate" as RFC 9110 defines it: a zlib stream
_RAW_WBITS = -15        # "deflate" as some servers send it: bare deflate data


class ContentDecoder:
    """Undoes an answer's Content-Encoding (gzip or deflate) as its bytes arrive.

    ``decode(data, limit)`` returns at most ``limit`` decoded bytes (0: no limit) and keeps the
    rest of ``data`` (``pending``) for the next call, which then passes b"": so a stream never
    holds more than what its reader asked for, however well the body compresses. ``end()``, once
    the body's last byte was passed, raises UndecodableBody if the compressed data was cut short.
    Corrupt data raises UndecodableBody too. A gzip body of several members is decoded whole.
    """

    __slots__ = ("coding", "_decompressor", "_tail")

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._decompressor: Optional[Decompressor] = None  # made once the stream's first bytes are here
        self._tail = b""

    @property
    def pending(self) -> bool:
        """Whether compressed bytes passed earlier are waiting: call ``decode(b"", limit)``."""
        return bool(self._tail) and self._decompressor is not None

    def decode(self, data: bytes, limit: int = 0) -> bytes:
        import zlib  # here, not at import time: only a compressed answer needs it
        if self._tail:
            data = self._tail + data
        decompressor = self._decompressor
        if decompressor is None:
            if self.coding == "gzip":
                wbits = _GZIP_WBITS
            elif len(data) < 2:
                self._tail = data  # too little to tell a zlib stream from bare deflate data
                return b""
            else:  # a zlib header (RFC 1950) or, as some servers send for "deflate", bare deflate data
                wbits = _ZLIB_WBITS if data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0 else _RAW_WBITS
            decompressor = self._decompressor = zlib.decompressobj(wbits)
        try:
            if decompressor.eof:
                if data:
                    decompressor = self._next_member(data)
                else:
                    self._tail = b""
                    return b""
            decoded = decompressor.decompress(data, limit)
        except zlib.error as exc:
            raise UndecodableBody("the %s-compressed answer is corrupt (%s)" % (self.coding, exc)) from None
        self._tail = decompressor.unconsumed_tail
        if decompressor.eof and decompressor.unused_data:
            self._tail += decompressor.unused_data
        return decoded

    def _next_member(self, data: bytes) -> Decompressor:
        """After a gzip member's end: the next member starts in ``data``; anything else is an error."""
        import zlib
        if self.coding != "gzip" or data[:2] != b"\x1f\x8b":
            raise UndecodableBody("the %s-compressed answer has %d stray bytes after its end"
                                  % (self.coding, len(data)))
        decompressor = self._decompressor = zlib.decompressobj(_GZIP_WBITS)
        return decompressor

    def end(self) -> None:
        """The body ended: it must have ended where its compressed data does."""
        if self.pending:
            return  # decoded data is still pending: the reader has not taken it all yet
        if self._decompressor is None or not self._decompressor.eof:
            raise UndecodableBody("the %s-compressed answer was cut short: its compressed data does not end"
                                  % self.coding)

    def decode_all(self, data: bytes, max_size: int) -> bytes:
        """The whole decoded body of ``data`` (a whole answer), or DecodedTooLarge above ``max_size``
        (found after decoding at most ``max_size + 1`` bytes: a small bomb stays small)."""
        parts = [self.decode(data, max_size + 1)]
        size = len(parts[0])
        while self.pending and size <= max_size:
            parts.append(self.decode(b"", max_size + 1 - size))
            size += len(parts[-1])
        if size > max_size:
            raise DecodedTooLarge(max_size)
        self.end()
        return b"".join(parts)


def content_decoder(headers: Headers) -> Optional[ContentDecoder]:
    """The decoder an answer's Content-Encoding asks for: None for none (or identity); a coding
    the client did not ask for, or several codings, raise UndecodableBody saying which."""
    value = headers._first.get("content-encoding")  # this module's own class (on every answer: no call)
    if value is None:
        return None
    codings = [coding.strip().lower() for coding in value.split(",") if coding.strip().lower() != "identity"]
    if not codings:
        return None
    if len(codings) == 1:
        coding = {"x-gzip": "gzip"}.get(codings[0], codings[0])
        if coding in ("gzip", "deflate"):
            return ContentDecoder(coding)
    raise UndecodableBody("the answer's Content-Encoding is %r, which pydirectus does not decode (it asks for %s)"
                          % (value, ACCEPT_ENCODING))


def idle_limit(response: Response) -> float:
    """How long the server keeps an idle connection open (its Keep-Alive timeout), less a safety margin."""
    keep_alive = response.headers.get("Keep-Alive")
    if keep_alive:
        for part in keep_alive.split(","):
            name, _, value = part.strip().partition("=")
            if name.lower() == "timeout" and value.strip().isdigit():
                return max(0.0, int(value) - _IDLE_MARGIN)
    return _DEFAULT_IDLE_LIMIT


# --- failures --------------------------------------------------------------------------------

def connect_error(exc: Optional[BaseException], method: str, url: str, connect_timeout: float) -> TransportError:
    """The TransportError of a connection that could not be opened (``exc`` None: it timed out,
    a TimeoutError). Nothing was sent: ``may_have_been_processed`` is False."""
    if exc is None:
        return TimeoutError("connect timed out after %s s" % connect_timeout, method=method, url=url)
    return TransportError("cannot connect: %s" % (exc,), method=method, url=url)


def send_error(exc: Optional[BaseException], method: str, url: str) -> TransportError:
    """The TransportError of a request that did not get out whole (``exc`` None: sending it timed
    out, a TimeoutError): the server cannot have acted on it."""
    if exc is None:
        return TimeoutError("timed out sending the request", method=method, url=url)
    return TransportError("connection lost while sending the request: %s" % (exc or type(exc).__name__),
                          method=method, url=url)


def too_large_error(method: str, url: str, max_body_size: int, length: Optional[int] = None) -> TransportError:
    """The TransportError of an answer whose body is above ``max_body_size``: ``length`` bytes as
    its Content-Length says, or (None) found larger while it was read."""
    if length is not None:
        message = "the answer is %d bytes, above max_body_size (%d)" % (length, max_body_size)
    else:
        message = "the answer is larger than max_body_size (%d bytes)" % max_body_size
    return TransportError(message, method=method, url=url, may_have_been_processed=True)


def read_timeout_error(method: str, url: str, read_timeout: float) -> TimeoutError:
    """The TimeoutError of a request sent whose answer did not come: it names the setting."""
    return TimeoutError("read timed out: no answer within read_timeout=%g s (the client's read_timeout= "
                        "argument sets it)" % read_timeout, method=method, url=url, may_have_been_processed=True)


def after_sent_error(exc: BaseException, method: str, url: str) -> TransportError:
    """The TransportError for a failure while reading an answer (the request was sent). A
    transport turns its own read timeouts into ``read_timeout_error`` before asking this."""
    if isinstance(exc, CutShort):
        return TransportError("the answer was cut short: %d bytes read, %s more expected"
                              % (exc.received, exc.expected if exc.expected is not None else "some"),
                              method=method, url=url, may_have_been_processed=True)
    if isinstance(exc, Malformed):
        return TransportError("malformed answer: %s" % exc, method=method, url=url, may_have_been_processed=True)
    if isinstance(exc, UndecodableBody):
        return TransportError(str(exc), method=method, url=url, may_have_been_processed=True)
    if isinstance(exc, DecodedTooLarge):
        return too_large_error(method, url, exc.max_body_size)
    if isinstance(exc, HeadTooLarge):
        return TransportError("the answer's head is larger than %d bytes" % HEAD_LIMIT, method=method, url=url,
                              may_have_been_processed=True)
    return TransportError("connection lost before the answer was complete: %s" % (exc or type(exc).__name__),
                          method=method, url=url, may_have_been_processed=True)
