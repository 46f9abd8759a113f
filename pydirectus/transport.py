"""The sync transport: the one seam where bytes meet a socket.

``HTTPTransport.send(request) -> Response`` over ``http.client``, with a keep-alive pool per
origin (``urllib.request.urlopen`` opens a new connection for every request), safe to share
across threads; separate connect and read timeouts; TLS verified by default; HTTP(S)_PROXY and
NO_PROXY honoured the way urllib honours them.

Failures become TransportErrors that say whether the request may have reached the server:
failing to connect or to write the request is ``may_have_been_processed=False``; anything after
the request was written is True.
"""

import http.client
import select
import socket
import threading
import time
from urllib.parse import unquote, urlsplit

from .errors import TimeoutError, TransportError
from .messages import Response

__all__ = ["HTTPTransport", "make_ssl_context", "resolve_route"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Node (and so Directus) closes idle keep-alive connections after 5 s and says so in a
# Keep-Alive header; without one, assume this and never reuse a connection older than it.
_DEFAULT_IDLE_LIMIT = 4.0
_IDLE_MARGIN = 1.0


def resolve_route(scheme, netloc, proxies, proxy_bypass):
    """Where a URL's requests go: ``(host, port, proxy, proxy_headers)``, proxy being
    ``(host, port)`` of the HTTP proxy to use, or None. Both transports route with this."""
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("unsupported URL scheme %r: use http or https" % scheme)
    parts = urlsplit("//" + netloc)
    host, port = parts.hostname, parts.port or _DEFAULT_PORTS[scheme]
    if not host:
        raise ValueError("the URL has no host: %r" % netloc)
    proxy_url = proxies.get(scheme)
    if not proxy_url or proxy_bypass(host, proxies):
        return host, port, None, {}
    proxy = urlsplit(proxy_url if "://" in proxy_url else "http://" + proxy_url)
    headers = {}
    if proxy.username is not None:
        import base64
        userpass = "%s:%s" % (unquote(proxy.username), unquote(proxy.password or ""))
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(userpass.encode()).decode()
    return host, port, (proxy.hostname, proxy.port or 80), headers


def make_ssl_context(verify=True, cafile=None):
    """An explicit SSL context: verification on unless ``verify`` is False; ``cafile`` adds a CA file."""
    import ssl
    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=cafile)


class _Connection(http.client.HTTPConnection):
    """An HTTP connection whose connect timeout and read timeout differ."""

    read_timeout = None

    def connect(self):
        super().connect()
        self.sock.settimeout(self.read_timeout)


class _TLSConnection(http.client.HTTPSConnection):
    read_timeout = None

    def connect(self):
        super().connect()
        self.sock.settimeout(self.read_timeout)


class _ResponseStream:
    """A streamed response body: ``read(n)``, iteration by chunks, and ``close()``.

    The connection goes back to the pool once the body was read to its end, and is closed if the
    stream is closed early. A body shorter than announced raises a TransportError.
    """

    def __init__(self, transport, key, connection, response, method, url):
        self._transport = transport
        self._key = key
        self._connection = connection
        self._response = response
        self._method = method
        self._url = url

    def read(self, amount=None):
        if self._response is None:
            return b""
        try:
            chunk = self._response.read(amount)
            missing = self._response.length  # what Content-Length still promises (None when chunked)
            if not chunk and amount != 0 and missing:
                # http.client's read(n) returns b"" when the peer closes early: that is a cut body
                raise http.client.IncompleteRead(b"", missing)
        except (http.client.IncompleteRead, OSError, http.client.HTTPException) as exc:
            self._abort()
            raise _after_sent_error(exc, self._method, self._url) from None
        if not chunk or self._response.isclosed():
            self._finish()
        return chunk

    def __iter__(self):
        while True:
            chunk = self.read(65536)
            if not chunk:
                return
            yield chunk

    def _finish(self):
        response, self._response = self._response, None
        if response is not None:
            self._transport._release(self._key, self._connection, response)

    def _abort(self):
        self._response = None
        self._connection.close()

    def close(self):
        if self._response is not None:
            self._abort()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _after_sent_error(exc, method, url):
    if isinstance(exc, socket.timeout):
        return TimeoutError("read timed out", method=method, url=url, may_have_been_processed=True)
    if isinstance(exc, http.client.IncompleteRead):
        return TransportError("the answer was cut short: %d bytes read, %s more expected"
                              % (len(exc.partial), exc.expected if exc.expected is not None else "some"),
                              method=method, url=url, may_have_been_processed=True)
    return TransportError("connection lost before the answer was complete: %s" % (exc or type(exc).__name__),
                          method=method, url=url, may_have_been_processed=True)


class HTTPTransport:
    """Sends Requests over pooled keep-alive connections.

    ``ssl_context``: the context for https (default: verified, system CAs). ``proxies``: a dict
    like ``urllib.request.getproxies()`` (default: from the environment); ``{}`` disables proxies.
    ``max_body_size``: the largest buffered response body accepted, in bytes.
    """

    def __init__(self, *, ssl_context=None, connect_timeout=10.0, read_timeout=60.0, proxies=None,
                 max_idle_per_origin=10, max_body_size=512 * 1024 * 1024, clock=time.monotonic):
        import urllib.request
        self.ssl_context = ssl_context
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.proxies = urllib.request.getproxies_environment() if proxies is None else dict(proxies)
        self._proxy_bypass = urllib.request.proxy_bypass_environment
        self.max_idle_per_origin = max_idle_per_origin
        self.max_body_size = max_body_size
        self._clock = clock
        self._idle = {}  # pool key -> list of (connection, reusable_until)
        self._lock = threading.Lock()
        self._routes = {}  # (scheme, netloc) -> (pool key, whether the target is an absolute URL)
        self._proxy_headers = {}  # pool key -> headers for its proxy

    def __repr__(self):
        return "<HTTPTransport connect_timeout=%s read_timeout=%s>" % (self.connect_timeout, self.read_timeout)

    # --- routing --------------------------------------------------------------------------
    def _route(self, scheme, netloc):
        """Pool key ``(scheme, host, port, proxy)`` and whether the target must be absolute."""
        route = self._routes.get((scheme, netloc))
        if route is None:
            host, port, proxy, proxy_headers = resolve_route(scheme, netloc, self.proxies, self._proxy_bypass)
            self._proxy_headers[(scheme, host, port, proxy)] = proxy_headers
            route = ((scheme, host, port, proxy), scheme == "http" and proxy is not None)
            self._routes[(scheme, netloc)] = route
        return route

    def _new_connection(self, key):
        scheme, host, port, proxy = key
        proxy_headers = self._proxy_headers[key]
        connect_host, connect_port = proxy if proxy else (host, port)
        if scheme == "https":
            if self.ssl_context is None:
                self.ssl_context = make_ssl_context()
            connection = _TLSConnection(connect_host, connect_port, timeout=self.connect_timeout,
                                        context=self.ssl_context)
            if proxy:
                connection.set_tunnel(host, port, headers=proxy_headers)
        else:
            connection = _Connection(connect_host, connect_port, timeout=self.connect_timeout)
        connection.read_timeout = self.read_timeout
        connection.proxy_headers = proxy_headers if scheme == "http" else {}
        return connection

    # --- the pool ---------------------------------------------------------------------------
    def _checkout(self, key):
        """An idle connection that is still good, or None."""
        now = self._clock()
        with self._lock:
            idle = self._idle.get(key)
            while idle:
                connection, reusable_until = idle.pop()
                if now < reusable_until and not _peer_closed(connection):
                    return connection
                connection.close()
        return None

    def _release(self, key, connection, response):
        if response.will_close or connection.sock is None:
            connection.close()
            return
        limit = getattr(connection, "idle_limit", None)
        if limit is None:  # the server's keep-alive timeout, read once per connection
            limit = connection.idle_limit = _idle_limit(response)
        reusable_until = self._clock() + limit
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.max_idle_per_origin:
                idle.append((connection, reusable_until))
                return
        connection.close()

    def close(self):
        """Close every idle connection. The transport can still be used afterwards."""
        with self._lock:
            pools, self._idle = self._idle, {}
        for idle in pools.values():
            for connection, _ in idle:
                connection.close()

    # --- the seam ---------------------------------------------------------------------------
    def send(self, request):
        """Send ``request`` and return its Response (body read, or streamed if ``request.stream``)."""
        method, url = request.method, request.url
        scheme, netloc, target = _split_url(url)
        key, absolute_target = self._route(scheme, netloc)
        if absolute_target:
            target = url
        connection = self._checkout(key)
        pooled = connection is not None
        if not pooled:
            connection = self._connect(key, method, url)
        headers = request.headers
        if connection.proxy_headers:
            headers = dict(headers, **connection.proxy_headers)
        try:
            self._write(connection, method, target, request.body, headers, url)
        except TransportError:
            # a pooled connection the server closed just now (after our check): the request did not
            # get out, so a new connection may carry it, once, when the body can be sent again
            if not pooled or not (request.body is None or isinstance(request.body, bytes)):
                raise
            connection = self._connect(key, method, url)
            self._write(connection, method, target, request.body, headers, url)
        try:
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise _after_sent_error(exc, method, url) from None
        if request.stream and 200 <= response.status < 300:
            stream = _ResponseStream(self, key, connection, response, method, url)
            return Response(response.status, response.headers, None, stream, method, url)
        body = self._read_body(connection, response, method, url)
        self._release(key, connection, response)
        return Response(response.status, response.headers, body, None, method, url)

    def _connect(self, key, method, url):
        connection = self._new_connection(key)
        try:
            connection.connect()
        except socket.timeout:
            connection.close()
            raise TimeoutError("connect timed out after %s s" % self.connect_timeout, method=method,
                               url=url) from None
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise TransportError("cannot connect: %s" % (exc,), method=method, url=url) from None
        return connection

    @staticmethod
    def _write(connection, method, target, body, headers, url):
        try:
            connection.request(method, target, body=body, headers=headers)
        except (OSError, http.client.HTTPException) as exc:
            # the request did not get out whole: the server cannot have acted on it
            connection.close()
            if isinstance(exc, socket.timeout):
                raise TimeoutError("timed out sending the request", method=method, url=url) from None
            raise TransportError("connection lost while sending the request: %s" % (exc,), method=method,
                                 url=url) from None

    def _read_body(self, connection, response, method, url):
        length = response.length
        if length is not None and length > self.max_body_size:
            connection.close()
            raise TransportError("the answer is %d bytes, above max_body_size (%d)" % (length, self.max_body_size),
                                 method=method, url=url, may_have_been_processed=True)
        try:
            body = response.read() if length is not None else response.read(self.max_body_size + 1)
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise _after_sent_error(exc, method, url) from None
        if len(body) > self.max_body_size:
            connection.close()
            raise TransportError("the answer is larger than max_body_size (%d bytes)" % self.max_body_size,
                                 method=method, url=url, may_have_been_processed=True)
        return body


def _split_url(url):
    """(scheme, netloc, path and query) of an absolute URL; plain string work on the hot path."""
    scheme, separator, remainder = url.partition("://")
    netloc, slash, rest = remainder.partition("/")
    if not separator or "?" in netloc or "#" in url:
        parts = urlsplit(url)
        return parts.scheme, parts.netloc, (parts.path or "/") + ("?" + parts.query if parts.query else "")
    return scheme, netloc, "/" + rest


def _peer_closed(connection):
    """Whether an idle connection was closed by the server (or has stray bytes waiting)."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _idle_limit(response):
    """How long the server keeps an idle connection open, less a safety margin."""
    keep_alive = response.headers.get("Keep-Alive")
    if keep_alive:
        for part in keep_alive.split(","):
            name, _, value = part.strip().partition("=")
            if name.lower() == "timeout" and value.strip().isdigit():
                return max(0.0, int(value) - _IDLE_MARGIN)
    return _DEFAULT_IDLE_LIMIT
