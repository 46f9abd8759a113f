"""Requests and responses as plain records, and the pure functions that build and decode them.

Nothing here touches a socket: ``build_request`` turns an operation and its arguments into a
Request, ``decode_result`` turns a Response into what the method returns (or raises the APIError
the answer stands for).
"""

from __future__ import annotations

import json
import re

from . import query as _query
from ..errors import error_from_response, is_whole
from .query import encode_query, query_object
from .spec import RESULTS

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from types import ModuleType
    from typing import Any, AsyncIterable, Dict, Iterable, Mapping, Optional, Protocol, Tuple, Type, Union

    from ..errors import Attempt
    from ..models import Item
    from .spec import Operation
    from .http11 import Headers

    Chunk = Union[bytes, bytearray, memoryview, str]

    class Readable(Protocol):
        """A file object a request body is read from."""

        def read(self, __size: int) -> Chunk: ...

    class ResponseStream(Protocol):
        """A streamed answer's body: the sync transport's (``read`` returns bytes) or the async one's
        (``read`` returns a coroutine)."""

        def read(self, __amount: Optional[int] = None) -> Any: ...

        def close(self) -> Any: ...

    # what a request body may be: bytes (str goes as Latin-1), an iterable of chunks (async ones for
    # the async transport) or a binary file object; both transports stream what is not bytes
    Body = Union[bytes, str, bytearray, memoryview, Iterable[Chunk], AsyncIterable[Chunk], Readable]

    class Transport(Protocol):
        """The seam between a DirectusClient and the network: everything above it (credentials,
        retries, redirects, paging, files) is decided without I/O and sends Requests through it.
        ``send`` returns the Response (``body`` bytes, or ``stream`` when ``request.stream``) or
        raises a TransportError (``may_have_been_processed`` when the request went out); it
        never raises for an error status. ``transport.HTTPTransport`` is the one pydirectus uses;
        the tests' ``tests/mocktransport.py`` answers from a function, without sockets."""

        def send(self, request: Request) -> Response: ...

        def close(self) -> None: ...

    class AsyncTransport(Protocol):
        """The same seam for AsyncDirectusClient (``async_transport.AsyncHTTPTransport``)."""

        async def send(self, request: Request) -> Response: ...

        async def aclose(self) -> None: ...

_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")
_PLAIN_SEGMENT = re.compile("[A-Za-z0-9_-][A-Za-z0-9_.-]*")  # needs no quoting (and is not . or ..)
_HEADER_INJECTION = re.compile("[\r\n\x00]")
_models: Optional[ModuleType] = None  # the models module, once imported: see models()


def models() -> ModuleType:
    """The models module (Item, File, ItemList), imported on first use: ``dataclasses`` imports
    ``inspect``, which would cost as much as the rest of ``import pydirectus``."""
    global _models
    if _models is None:
        from .. import models as module
        _models = module
    return _models


def is_item(value: object) -> bool:
    """Whether ``value`` is an Item; none exists before the models are imported."""
    return _models is not None and isinstance(value, _models.Item)


# Past this length a query moves from the URL of a GET into the body of its SEARCH twin: servers
# and proxies refuse long request lines (Node's limit for the whole head is 16 KiB).
MAX_URL_LENGTH = 8000

__all__ = ["Request", "Response", "build_request", "header_int", "build_raw_request", "decode_result", "decode_raw",
           "quote_path_value", "encode_json", "check_header_values", "redirect_target"]


class Request:
    """One HTTP request: ``method``, absolute ``url``, ``headers`` (a dict), ``body`` (bytes or None).

    ``auth`` says whether the client's credentials go with it; ``stream`` asks for the response
    body as a stream instead of bytes; ``follow_redirects`` whether a redirect is followed or
    is the answer.
    """

    __slots__ = ("method", "url", "headers", "body", "auth", "stream", "follow_redirects")

    method: str
    url: str
    headers: Dict[str, str]
    body: Optional[Body]
    auth: bool
    stream: bool
    follow_redirects: bool

    def __init__(self, method: str, url: str, headers: Optional[Dict[str, str]] = None, body: Optional[Body] = None,
                 auth: bool = True, stream: bool = False, follow_redirects: bool = True) -> None:
        self.method = method
        self.url = url
        self.headers = headers if headers is not None else {}
        self.body = body
        self.auth = auth
        self.stream = stream
        self.follow_redirects = follow_redirects

    @property
    def idempotent(self) -> bool:
        return self.method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS", "SEARCH")

    def with_headers(self, extra: Mapping[str, str]) -> Request:
        """A copy with ``extra`` headers added (the original is left as it is)."""
        headers = dict(self.headers)
        headers.update(extra)
        return Request(self.method, self.url, headers, self.body, self.auth, self.stream, self.follow_redirects)

    def __repr__(self) -> str:  # never shows headers: they carry the credentials
        return "<Request %s %s>" % (self.method, self.url)


class Response:
    """One HTTP answer: ``status``, ``headers`` (case-insensitive ``.get``), ``body`` (bytes).

    A streamed response has ``body`` None and ``stream``, an object with ``read(n)`` and
    ``close()`` that the caller must close. ``attempts`` is the request's history when it was
    tried more than once (``errors.Attempt`` records, set by the request policy).
    """

    __slots__ = ("status", "headers", "body", "stream", "method", "url", "attempts")

    status: int
    headers: Headers
    body: Optional[bytes]  # None only while streamed (or not yet read)
    stream: Optional[ResponseStream]
    method: Optional[str]
    url: Optional[str]
    attempts: Tuple[Attempt, ...]

    def __init__(self, status: int, headers: Headers, body: Optional[bytes] = b"",
                 stream: Optional[ResponseStream] = None, method: Optional[str] = None,
                 url: Optional[str] = None) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.stream = stream
        self.method = method
        self.url = url
        self.attempts = ()

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def __repr__(self) -> str:
        return "<Response %s for %s %s>" % (self.status, self.method, self.url)


def check_header_values(headers: Mapping[str, str]) -> None:
    """Refuse header values with CR, LF or NUL, which would let a value add headers of its own."""
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("header %r must be a string name and value, got %r" % (name, value))
        if _HEADER_INJECTION.search(name) or _HEADER_INJECTION.search(value) or ":" in name or not name:
            raise ValueError("header %r: names and values must not hold CR, LF or NUL (names no colon)" % name)


def redirect_target(request: Request, response: Response) -> Optional[Request]:
    """The request a redirect answer asks for, or None when ``response`` is not one to follow.

    301, 302 and 303 turn a POST (and 303 anything but HEAD) into a GET without body, as browsers
    and requests do; 307 and 308 repeat the method and body. Credentials never leave the origin
    they were given for, and an https URL never leads to http.
    """
    if response.status not in (301, 302, 303, 307, 308) or not request.follow_redirects:
        return None
    location = response.headers.get("Location")
    if not location:
        return None
    from urllib.parse import urljoin, urlsplit
    url = urljoin(request.url, location)
    old, new = urlsplit(request.url), urlsplit(url)
    if new.scheme not in ("http", "https"):
        raise ValueError("refusing a redirect to %r: not http or https" % url)
    if old.scheme == "https" and new.scheme == "http":
        from ..errors import TransportError
        raise TransportError("refusing a redirect from https to http (%s)" % url, method=request.method,
                             url=request.url, may_have_been_processed=not request.idempotent)
    headers = dict(request.headers)
    method, body = request.method, request.body
    if (response.status == 303 and method != "HEAD") or (response.status in (301, 302) and method == "POST"):
        method, body = "GET", None
        headers.pop("Content-Type", None)
    same_origin = (old.scheme, old.hostname, old.port) == (new.scheme, new.hostname, new.port)
    if not same_origin:
        headers.pop("Authorization", None)
    return Request(method, url, headers, body, request.auth and same_origin, request.stream, True)


def quote_path_value(name: str, value: object) -> str:
    """``value`` quoted as exactly one path segment; empty, ``.``, ``..`` and control characters refused."""
    if value is None:
        raise TypeError("path parameter %r is required, got None" % name)
    if not (isinstance(value, str) or is_whole(value, None)):
        raise TypeError("path parameter %r must be a string or an integer, got %r" % (name, value))
    text = str(value)
    if _PLAIN_SEGMENT.fullmatch(text):  # the common case: names, numbers, UUIDs
        return text
    if text in ("", ".", ".."):
        raise ValueError("path parameter %r must not be %r" % (name, text))
    if _CONTROL_CHARACTER.search(text):
        raise ValueError("path parameter %r must not contain control characters: %r" % (name, text))
    return _query.quote(text, safe="")


def encode_json(value: object) -> bytes:
    """Compact UTF-8 JSON; Items become their dicts, dates their ISO form."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_query.json_default).encode("utf-8")


def _check_payload(operation: Operation, data: object) -> None:
    kind = operation.payload
    if kind == "object" and not isinstance(data, dict) and not is_item(data):
        raise TypeError("%s(): data must be a dict (or an Item), got %s" % (operation.name, type(data).__name__))
    if kind == "array" and not isinstance(data, (list, tuple)):
        raise TypeError("%s(): data must be a list, got %s" % (operation.name, type(data).__name__))
    if kind == "json" and not isinstance(data, (dict, list, tuple)) and not is_item(data):
        raise TypeError("%s(): data must be a dict or a list, got %s" % (operation.name, type(data).__name__))


def build_request(base_url: str, operation: Operation, path_values: Mapping[str, object], data: object,
                  query_values: Mapping[str, object], headers: Dict[str, str]) -> Request:
    """The Request for one call of ``operation``.

    ``path_values`` maps path parameter names to values, ``query_values`` wire names to values,
    ``headers`` are the client's base headers (copied, never changed).
    """
    path = operation.path
    for name in operation.path_params:
        path = path.replace("{" + name + "}", quote_path_value(name, path_values[name]), 1)
    url = base_url + path
    if query_values:
        query = encode_query(query_values, operation.query_params)
        if query:
            url += "?" + query
        if len(url) > MAX_URL_LENGTH and operation.search_operation is not None:
            headers = dict(headers)
            headers["Content-Type"] = "application/json"
            body: Optional[Body] = encode_json({"query": query_object(query_values, operation.query_params)})
            return Request("SEARCH", base_url + path, headers, body, operation.auth)
    body = None
    if operation.payload == "multipart":
        # checked now; its files are opened, and its body made, by files.multipart_call_flow (opening
        # a file is an effect), which ClientBase._call_flow runs. Uploads are rare: their module is
        # kept off the common path.
        from .files import multipart_body
        body = multipart_body(data)
    elif operation.payload != "none" and (data is not None or operation.payload_required):
        _check_payload(operation, data)
        body = encode_json(data)
        headers = dict(headers)
        headers["Content-Type"] = "application/json"
    # an operation that returns nothing takes a redirect as its answer (a license portal, the
    # page after an e-mail check): following it would fetch a page meant for a browser
    return Request(operation.method, url, headers, body, operation.auth, operation.result == "stream",
                   operation.result != "none")


def header_int(headers: Headers, name: str) -> Optional[int]:
    """The value of header ``name`` as a whole number of 0 or more (a length, an offset); None when
    the header is absent or is not one (digits only, spaces around allowed). Never raises: a caller
    that needs the number says what its absence means."""
    value = headers.get(name)
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() and value.isascii() else None


def build_raw_request(base_url: str, headers: Dict[str, str], method: str, path: str,
                      params: Optional[Mapping[str, object]] = None, json: object = None, data: Optional[Body] = None,
                      extra_headers: Optional[Mapping[str, str]] = None, auth: bool = True) -> Request:
    """The Request of ``DirectusClient.request``: any method and path, checked before sending."""
    if not isinstance(method, str) or not method.isalpha():
        raise ValueError("method must be an HTTP method name, got %r" % (method,))
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError("path must start with '/', got %r" % (path,))
    if json is not None and data is not None:
        raise TypeError("give json or data, not both")
    url = base_url + path
    if params:
        url += ("&" if "?" in path else "?") + _query.encode_free_query(params)
    headers = dict(headers)
    body = data
    if json is not None:
        body = encode_json(json)
        headers["Content-Type"] = "application/json"
    if extra_headers:
        check_header_values(extra_headers)
        headers.update(extra_headers)
    return Request(method.upper(), url, headers, body, auth)


def decode_result(operation: Operation, response: Response, model: Optional[Type[Item]] = None) -> Any:
    """What the method returns for ``response``; an error status raises its APIError."""
    status = response.status
    kind = RESULTS[operation.result]  # the spec's vocabulary: how this kind of result is read
    decoding = kind.decoding
    if decoding == "none" and 300 <= status < 400:
        return None  # the redirect is the answer (see build_request)
    if status >= 300:
        raise error_from_response(status, response.headers, response.body, response.method, response.url,
                                  response.attempts)
    if decoding == "none":
        return None
    if decoding == "bytes":
        return response.body
    if decoding == "stream":
        return response.stream
    if response.body and "json" not in (response.headers.get("Content-Type") or "json"):
        return response.body  # a file the query asked for (export="csv", "xml" or "yaml"): its bytes
    document = response.json() if status != 204 else None
    if isinstance(document, dict) and document.get("errors"):  # GraphQL answers errors with a 200
        raise error_from_response(status, response.headers, response.body, response.method, response.url,
                                  response.attempts)
    data = document.get("data") if isinstance(document, dict) and "data" in document else document
    if decoding == "data":
        return data
    classes = _models or models()
    cls = model or getattr(classes, kind.record or "Item")
    if decoding == "record":
        if data is None:  # 204: written, but the user may not read it back
            return None
        return cls.from_dict(data)
    meta = document.get("meta") if isinstance(document, dict) else None
    if data is None:
        return classes.ItemList((), meta)
    if isinstance(data, dict):  # a singleton collection answers one object
        data = [data]
    return classes.ItemList([cls.from_dict(entry) for entry in data], meta)


def decode_raw(response: Response) -> Any:
    """What ``DirectusClient.request`` returns: decoded JSON (its ``data``), bytes, or None."""
    if response.status >= 300:
        raise error_from_response(response.status, response.headers, response.body, response.method, response.url,
                                  response.attempts)
    if not response.body:
        return None
    if "json" not in (response.headers.get("Content-Type") or ""):
        return response.body
    document = response.json()
    return document["data"] if isinstance(document, dict) and "data" in document else document
