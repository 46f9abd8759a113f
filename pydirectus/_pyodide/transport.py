"""The fetch transport: the AsyncTransport seam (``send(request) -> Response``, ``aclose()``) on the
JavaScript ``fetch`` of the browser (or of Node), through Pyodide's FFI; and its blocking twin for
``DirectusClient``, which waits with ``pyodide.ffi.run_sync`` where the runtime can block on a
promise (JSPI).

What the browser decides, and this transport therefore does:

- Headers: the browser forbids some request headers (Content-Length, Accept-Encoding, Connection,
  Host, ...) and a page on another origin than the server may only send what the server's CORS
  preflight allows (Directus by default: Content-Type and Authorization, besides the always-safe
  Accept). So the forbidden ones and User-Agent are never sent; the browser sets its own.
- Request bodies cannot be streamed over HTTP/1.1: a body given as an iterable or a file is
  gathered into bytes first (in memory).
- Response headers a page on another origin may read are few (Directus exposes Content-Range
  besides the always readable Content-Type, Content-Length, Last-Modified, ...): nothing here
  depends on ETag.
- Timeouts: an AbortController aborts the fetch when no answer came within connect_timeout +
  read_timeout, or a streamed body stayed quiet for read_timeout.
- Failures: fetch rejects with a TypeError ("Failed to fetch", "fetch failed", "NetworkError ...",
  "Load failed") whether the server is down or the browser refused the answer (CORS); it becomes
  a TransportError saying both.
"""

from __future__ import annotations

import asyncio

from ..errors import TimeoutError as _DirectusTimeout
from ..errors import TransportError
from .._core.http11 import Headers
from .._core.records import Request, Response

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from typing import Any, Awaitable, Dict, List, Mapping, Optional, Tuple, TypeVar

    from .._core.records import Body

    T = TypeVar("T")

__all__ = ["FetchTransport", "SyncFetchTransport", "FetchStream", "SyncFetchStream", "browser_headers",
           "gather_body", "gather_body_async", "fetch_error", "sync_sleep", "refuse_realtime", "SYNC_REFUSED"]

_CHUNK = 64 * 1024

# Request headers a browser's fetch refuses to set (the Fetch standard's forbidden request-headers;
# Proxy-* and Sec-* too), and User-Agent: Chromium drops it, and a page on another origin would need
# the server's CORS preflight to allow it (Directus's does not, by default).
FORBIDDEN_HEADERS = frozenset((
    "accept-charset", "accept-encoding", "access-control-request-headers", "access-control-request-method",
    "connection", "content-length", "cookie", "cookie2", "date", "dnt", "expect", "host", "keep-alive",
    "origin", "referer", "set-cookie", "te", "trailer", "transfer-encoding", "upgrade", "via",
    "user-agent"))

# the messages of fetch's TypeError for a network failure, by runtime (Chromium, Node, Firefox, Safari)
_NETWORK_MESSAGES = ("failed to fetch", "fetch failed", "networkerror", "load failed", "network request failed")
# Node's causes that say the request never left (the server cannot have acted on it)
_NOT_SENT_CAUSES = ("ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "bad port",
                    "UND_ERR_CONNECT_TIMEOUT")

# the methods Directus's CORS answers allow by default (CORS_METHODS), and HEAD, which needs no preflight
_CORS_DEFAULT_METHODS = ("GET", "HEAD", "POST", "PATCH", "DELETE")

SYNC_REFUSED = (
    "DirectusClient cannot wait for fetch here: a blocking call needs the runtime to suspend "
    "WebAssembly on a JavaScript promise (JSPI), and pyodide.ffi.can_run_sync() is False. Use "
    "AsyncDirectusClient (await its methods: top-level await works in JupyterLite, PyScript and "
    "marimo), or run where JSPI is on (Chromium 137+, Node 22 with --experimental-wasm-jspi) from "
    "code Pyodide started with runPythonAsync")


def browser_headers(headers: Mapping[str, str]) -> Dict[str, str]:
    """``headers`` without those the browser forbids or sets itself (see FORBIDDEN_HEADERS)."""
    kept = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower in FORBIDDEN_HEADERS or lower.startswith(("proxy-", "sec-")):
            continue
        kept[name] = value
    return kept


def _chunk_bytes(chunk: object) -> bytes:
    if isinstance(chunk, str):
        return chunk.encode("iso-8859-1")  # as the socket transports send a str chunk
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError("a request body chunk must be bytes or str, got %s" % type(chunk).__name__)


def gather_body(body: Optional[Body]) -> Optional[bytes]:
    """The bytes of a request body: the browser cannot stream a request body (over HTTP/1.1), so an
    iterable of chunks or a binary file object is read whole, into memory, before it is sent."""
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, (str, bytearray, memoryview)):
        return _chunk_bytes(body)
    read = getattr(body, "read", None)
    if read is None and not hasattr(body, "__iter__"):
        raise TypeError("an async iterable request body needs AsyncDirectusClient")
    if read is not None:
        parts = []
        while True:
            chunk = read(_CHUNK)
            if not chunk:
                break
            parts.append(_chunk_bytes(chunk))
        return b"".join(parts)
    return b"".join(_chunk_bytes(chunk) for chunk in body)  # type: ignore[union-attr]


async def gather_body_async(body: Optional[Body]) -> Optional[bytes]:
    """``gather_body``, async iterables included."""
    if body is not None and hasattr(body, "__aiter__"):
        return b"".join([_chunk_bytes(chunk) async for chunk in body])
    return gather_body(body)


def _module(name: str) -> Any:
    """The module ``name`` (``js``, ``pyodide.ffi``: Pyodide's own, which type checkers do not know)."""
    import importlib
    return importlib.import_module(name)


def _js_text(value: object) -> str:
    return "" if value is None else str(value)


def _error_parts(exc: BaseException) -> Tuple[str, str, str]:
    """(name, message, cause) of a rejected fetch: a pyodide.ffi.JsException has the JavaScript
    error's ``name`` and ``message``; Node's "fetch failed" has a ``cause`` with the reason."""
    name = _js_text(getattr(exc, "name", None))
    message = _js_text(getattr(exc, "message", None))
    if not name and not message:
        text = str(exc)
        name, _, message = text.partition(": ") if ": " in text else ("", "", text)
    cause = getattr(exc, "cause", None)
    described = ""
    if cause is not None:
        code = getattr(cause, "code", None)
        described = _js_text(getattr(cause, "message", None)) or _js_text(cause)
        if code is not None and _js_text(code) not in described:
            described = "%s (%s)" % (described, _js_text(code))
    return name, message, described


def fetch_error(exc: BaseException, method: str, url: str) -> TransportError:
    """The TransportError of a fetch that rejected with ``exc`` before any answer."""
    name, message, cause = _error_parts(exc)
    told = "%s: %s" % (name, message) if name else message
    if cause:
        told += " (%s)" % cause
    if name == "AbortError":
        return _DirectusTimeout("the request was aborted before an answer came (%s)" % told, method=method,
                                url=url, may_have_been_processed=True)
    if name == "TypeError" and any(text in message.lower() for text in _NETWORK_MESSAGES):
        not_sent = any(text in cause for text in _NOT_SENT_CAUSES)
        unusual = ""
        if method not in _CORS_DEFAULT_METHODS:  # SEARCH: a query too long for a URL
            unusual = ", and CORS_METHODS must name %s (Directus allows GET, POST, PATCH and DELETE by default)" % method
        return TransportError(
            "fetch failed (%s): the server could not be reached, or the browser refused to let the page "
            "read its answer. For a page on another origin than the server, Directus needs CORS_ENABLED=true "
            "and CORS_ORIGIN allowing the page's origin (and CORS_ALLOWED_HEADERS must allow any header "
            "beyond Content-Type and Authorization you send%s); the browser's console says which"
            % (told, unusual), method=method, url=url, may_have_been_processed=not not_sent)
    return TransportError("the browser refused to send the request (%s)" % told, method=method, url=url)


def _timeout_error(method: str, url: str, seconds: float, what: str) -> TransportError:
    return _DirectusTimeout("%s within %s s (fetch aborted)" % (what, seconds), method=method, url=url,
                            may_have_been_processed=True)


def _answer_headers(answer: Any) -> Headers:
    items: List[Tuple[str, str]] = [(str(entry[0]), str(entry[1])) for entry in answer.headers.entries()]
    headers = Headers(items)
    if "content-encoding" in headers:
        # fetch undid the coding: the length announced is the coded one, not the body's
        headers = headers.without("Content-Length").without("Content-Encoding")
    return headers


def _reader(answer: Any) -> Any:
    """The reader of the answer's body, or None for none (JavaScript's null: a JsNull in Pyodide)."""
    body = answer.body
    if body is None or not hasattr(body, "getReader"):
        return None
    return body.getReader()


def _abort(controller: Any) -> None:
    try:
        controller.abort()
    except Exception:  # already done: nothing to stop
        pass


class FetchStream:
    """A streamed answer's body, read through the fetch body's reader: ``await read(n)``,
    ``async for chunk in stream``, ``await aclose()`` (or ``close()``)."""

    def __init__(self, reader: Any, controller: Any, read_timeout: Optional[float], method: str, url: str) -> None:
        self._reader: Any = reader  # None once read to the end or closed
        self._controller = controller
        self._read_timeout = read_timeout
        self._method = method
        self._url = url
        self._pending = b""

    async def _next_chunk(self) -> bytes:
        reader = self._reader
        if reader is None:
            return b""
        try:
            if self._read_timeout is None:
                result = await reader.read()
            else:
                result = await asyncio.wait_for(_awaited(reader.read()), self._read_timeout)
        except asyncio.TimeoutError:
            self.close()
            raise _timeout_error(self._method, self._url, self._read_timeout or 0,
                                 "the answer's body stayed quiet") from None
        except asyncio.CancelledError:
            self.close()
            raise
        except Exception as exc:
            self._reader = None
            _abort(self._controller)
            raise TransportError("the answer was cut short (%s)" % ("%s: %s" % _error_parts(exc)[:2]),
                                 method=self._method, url=self._url, may_have_been_processed=True) from None
        if result.done:
            self._reader = None
            return b""
        return bytes(result.value.to_bytes())

    async def read(self, amount: Optional[int] = None) -> bytes:
        """Up to ``amount`` bytes (everything left when None); b"" at the end."""
        if amount is None:
            parts = [self._pending]
            self._pending = b""
            while True:
                chunk = await self._next_chunk()
                if not chunk:
                    return b"".join(parts)
                parts.append(chunk)
        if amount <= 0:
            return b""
        data = self._pending
        while not data:
            data = await self._next_chunk()
            if not data:
                return b""
        self._pending = data[amount:]
        return data[:amount]

    def __aiter__(self) -> FetchStream:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self.read(_CHUNK)
        if not chunk:
            raise StopAsyncIteration
        return chunk

    def close(self) -> None:
        """Stop reading: the rest of the body is not fetched."""
        reader, self._reader = self._reader, None
        self._pending = b""
        if reader is not None:
            try:
                promise = reader.cancel()
                catch = getattr(promise, "catch", None)  # nobody awaits it: never an unhandled rejection
                if catch is not None:
                    catch(_module("pyodide.ffi").create_once_callable(lambda error: None))
            except Exception:
                pass
            _abort(self._controller)

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> FetchStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


class FetchTransport:
    """Sends Requests with the JavaScript ``fetch`` (the async seam). ``connect_timeout +
    read_timeout`` bounds the wait for an answer's head (fetch has no separate connect phase),
    ``read_timeout`` each read of a streamed body; ``max_body_size`` the body read whole. Proxies
    and TLS are the browser's. ``fetch`` replaces ``js.fetch`` (tests)."""

    def __init__(self, *, connect_timeout: Optional[float] = 10.0, read_timeout: Optional[float] = 60.0,
                 max_body_size: int = 512 * 1024 * 1024, fetch: Any = None) -> None:
        js = _module("js")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_body_size = max_body_size
        self._js = js
        self._fetch = fetch if fetch is not None else js.fetch

    def __repr__(self) -> str:
        return "<FetchTransport connect_timeout=%s read_timeout=%s>" % (self.connect_timeout, self.read_timeout)

    def _init(self, request: Request, body: Optional[bytes], controller: Any) -> Any:
        """The fetch's options (a JavaScript object)."""
        to_js = _module("pyodide.ffi").to_js
        js = self._js
        options: Dict[str, Any] = {
            "method": request.method,
            "headers": to_js(browser_headers(request.headers), dict_converter=js.Object.fromEntries),
            "redirect": "follow" if request.follow_redirects else "manual",
            "signal": controller.signal,
        }
        if body is not None and request.method not in ("GET", "HEAD"):
            array = js.Uint8Array.new(len(body))
            array.assign(body)
            options["body"] = array
        return to_js(options, dict_converter=js.Object.fromEntries)

    async def send(self, request: Request) -> Response:
        """Send ``request`` and return its Response (body read, or streamed if ``request.stream``)."""
        method, url = request.method, request.url
        body = await gather_body_async(request.body)
        controller = self._js.AbortController.new()
        waited = None
        if self.connect_timeout is not None and self.read_timeout is not None:
            waited = self.connect_timeout + self.read_timeout
        try:
            promise = self._fetch(url, self._init(request, body, controller))
            answer = await (asyncio.wait_for(_awaited(promise), waited) if waited is not None else promise)
        except asyncio.TimeoutError:
            _abort(controller)
            raise _timeout_error(method, url, waited or 0, "no answer came") from None
        except asyncio.CancelledError:
            _abort(controller)
            raise
        except TransportError:
            raise
        except Exception as exc:
            raise fetch_error(exc, method, url) from None
        if answer.type == "opaqueredirect":  # redirect: "manual": the browser tells nothing more of it
            _abort(controller)
            return Response(302, Headers([]), b"", None, method, url)
        status = int(answer.status)
        headers = _answer_headers(answer)
        response = Response(status, headers, None, None, method, url)
        if request.stream and 200 <= status < 300:
            response.stream = FetchStream(_reader(answer), controller, self.read_timeout, method, url)
            return response
        length = headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self.max_body_size:
            _abort(controller)
            raise TransportError("the answer's body is larger than max_body_size (%d bytes)" % self.max_body_size,
                                 method=method, url=url, may_have_been_processed=True)
        stream = FetchStream(_reader(answer), controller, self.read_timeout, method, url)
        parts = []
        size = 0
        while True:
            chunk = await stream.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > self.max_body_size:
                stream.close()
                raise TransportError("the answer's body is larger than max_body_size (%d bytes)" % self.max_body_size,
                                     method=method, url=url, may_have_been_processed=True)
            parts.append(chunk)
        response.body = b"".join(parts)
        return response

    async def aclose(self) -> None:
        """Nothing to close: the browser keeps its own connections."""


class SyncFetchStream:
    """A FetchStream read blocking (``read(n)``, ``close()``, iteration), for DirectusClient."""

    def __init__(self, stream: FetchStream) -> None:
        self._stream = stream

    def read(self, amount: Optional[int] = None) -> bytes:
        return _block(self._stream.read(amount))

    def __iter__(self) -> SyncFetchStream:
        return self

    def __next__(self) -> bytes:
        chunk = self.read(_CHUNK)
        if not chunk:
            raise StopIteration
        return chunk

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> SyncFetchStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _block(awaitable: Awaitable[T]) -> T:
    """What ``awaitable`` gives, waited for blocking with ``pyodide.ffi.run_sync`` (JSPI)."""
    ffi = _module("pyodide.ffi")
    can_run_sync = getattr(ffi, "can_run_sync", None)
    if can_run_sync is None or not can_run_sync():
        close = getattr(awaitable, "close", None)
        if close is not None:
            close()  # never started: no "never awaited" warning
        raise RuntimeError(SYNC_REFUSED)
    result: T = ffi.run_sync(awaitable)
    return result


class SyncFetchTransport:
    """The blocking seam (``send``, ``close``) on FetchTransport: each request waits with
    ``pyodide.ffi.run_sync``, which needs JSPI (``pyodide.ffi.can_run_sync()``); where the runtime
    cannot block, each call raises a RuntimeError saying to use AsyncDirectusClient."""

    def __init__(self, **options: Any) -> None:
        self.transport = FetchTransport(**options)

    def __repr__(self) -> str:
        return "<SyncFetchTransport connect_timeout=%s read_timeout=%s>" % (
            self.transport.connect_timeout, self.transport.read_timeout)

    def send(self, request: Request) -> Response:
        body = gather_body(request.body)  # here: an async iterable body is refused before anything waits
        if body is not request.body:
            request = Request(request.method, request.url, request.headers, body, request.auth, request.stream,
                              request.follow_redirects)
        response = _block(self.transport.send(request))
        if response.stream is not None:
            response.stream = SyncFetchStream(response.stream)  # type: ignore[arg-type]
        return response

    def close(self) -> None:
        """Nothing to close: the browser keeps its own connections."""


def sync_sleep(seconds: float) -> None:
    """The sync runner's sleep: suspended on a timer where JSPI allows (the page stays responsive),
    else ``time.sleep`` (which waits busy in Pyodide)."""
    ffi = _module("pyodide.ffi")
    can_run_sync = getattr(ffi, "can_run_sync", None)
    if can_run_sync is not None and can_run_sync():
        ffi.run_sync(asyncio.sleep(seconds))
    else:
        import time
        time.sleep(seconds)


REALTIME_REFUSED = ("realtime() is not available under Pyodide: the realtime connection is a WebSocket "
                    "on a socket of its own, which a browser tab does not have. Poll with read_items (or "
                    "iter_items), or use the realtime API from CPython")


def refuse_realtime(cls: Any) -> None:
    """Make ``cls.realtime`` raise a clear NotImplementedError (under Pyodide), keeping its doc."""
    original = cls.realtime

    def refused(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(REALTIME_REFUSED)
    refused.__name__ = refused.__qualname__ = "realtime"
    refused.__doc__ = original.__doc__
    refused.__wrapped__ = original  # type: ignore[attr-defined]
    cls.realtime = refused
