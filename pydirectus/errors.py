"""The exceptions pydirectus raises, and the table that maps a Directus answer to one of them.

    DirectusError                  every error this library raises
    ├── APIError                   the server answered with an error status
    │   ├── AuthenticationError    401: bad credentials, expired or invalid token, wrong OTP
    │   ├── ForbiddenError         403, 404: forbidden or not found (alias NotFoundError;
    │   │   │                      Directus answers 403 for a missing item, to hide existence)
    │   │   └── UnsupportedOperationError   the server's Directus version lacks the operation
    │   │                          (raised before sending when the version is known, else
    │   │                          from its 404 ROUTE_NOT_FOUND)
    │   ├── BadRequestError        400 and other 4xx
    │   │   ├── InvalidPayloadError     INVALID_PAYLOAD, FAILED_VALIDATION, ...
    │   │   ├── InvalidQueryError       INVALID_QUERY
    │   │   └── UniqueConflictError     RECORD_NOT_UNIQUE
    │   ├── RateLimitedError       429 (``retry_after`` in seconds, when the server said)
    │   └── ServerError            5xx, and any answer that is not a Directus error body
    │                              (``may_have_been_processed``: True for 5xx but 503)
    └── TransportError             no usable answer: connection refused, reset, timeout,
        │                          truncated body (``may_have_been_processed`` says whether
        │                          the server could have acted on the request)
        └── TimeoutError           connect or read timeout, or the overall deadline

Bad arguments raise the built-in ``TypeError`` or ``ValueError`` before anything is sent.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time; the attributes' types are for type checkers
    from typing import Any, Dict, Iterable, List, Optional, Tuple, Type, TypeGuard

    from ._core.http11 import Headers

__all__ = [
    "DirectusError", "APIError", "AuthenticationError", "ForbiddenError", "NotFoundError",
    "UnsupportedOperationError", "BadRequestError", "InvalidPayloadError", "InvalidQueryError", "UniqueConflictError",
    "RateLimitedError", "ServerError", "TransportError", "TimeoutError", "Attempt",
]

_SNIPPET_LENGTH = 200
_READ_ONLY_METHODS = ("GET", "HEAD", "OPTIONS", "SEARCH")  # Directus's SEARCH reads with a query in the body


class DirectusError(Exception):
    """Base class of every error raised by pydirectus."""


class APIError(DirectusError):
    """The server answered with an error status.

    Attributes: ``status`` (HTTP status), ``code`` (Directus ``extensions.code`` of the first
    error, or None), ``message``, ``errors`` (the full Directus ``errors`` list), ``method``,
    ``url`` (without credentials), ``body`` (the raw body, for answers that were not JSON),
    ``attempts`` (each try of the request: ``Attempt`` records, the last one this answer).
    """

    message: str
    status: Optional[int]  # always set by pydirectus; None only for an APIError made without one
    code: Optional[str]
    errors: List[Dict[str, Any]]
    method: Optional[str]
    url: Optional[str]
    body: bytes
    retry_after: Optional[float]
    attempts: Tuple[Attempt, ...]

    def __init__(self, message: str, *, status: Optional[int] = None, code: Optional[str] = None,
                 errors: Iterable[Dict[str, Any]] = (), method: Optional[str] = None, url: Optional[str] = None,
                 body: bytes = b"", retry_after: Optional[float] = None, attempts: Iterable[Attempt] = ()) -> None:
        super().__init__(message)
        self.attempts = tuple(attempts)
        self.message = message
        self.status = status
        self.code = code
        self.errors = list(errors)
        self.method = method
        self.url = url
        self.body = body
        self.retry_after = retry_after

    @property
    def may_have_been_processed(self) -> bool:
        """Whether the server may have acted on the request although it answered with an error,
        as ``TransportError.may_have_been_processed`` says it of a lost answer: True for a 5xx
        other than 503. A proxy's 502 or 504 can come after its upstream committed a write (nginx
        answers 502 for an instance that stopped midway), an internal error after part of one;
        4xx, 429 and 503 are refusals of a request that was not carried out."""
        return self.status is not None and self.status >= 500 and self.status != 503

    def __str__(self) -> str:
        where = " (%s %s)" % (self.method, self.url) if self.method else ""
        code = " %s" % self.code if self.code else ""
        when = "; retry after %g s" % self.retry_after if self.retry_after is not None else ""
        maybe = ""
        if self.may_have_been_processed and self.method not in _READ_ONLY_METHODS:
            maybe = "; the server may have processed the request"
        return "%s%s: %s%s%s%s" % (self.status, code, self.message, where, when, maybe)


class AuthenticationError(APIError):
    """401: the credentials were refused, a token expired or is invalid, or an OTP is wrong."""


class ForbiddenError(APIError):
    """403 or 404: forbidden, or not found.

    Directus answers 403 FORBIDDEN for an item, file or collection that does not exist, so
    the two cannot be told apart; ``NotFoundError`` is the same class under its other name.
    """


NotFoundError = ForbiddenError


class UnsupportedOperationError(ForbiddenError):
    """The server's Directus version does not have the operation (``read_policies`` on Directus 10).

    Raised before anything is sent when the client knows the server's version (``server_version=``,
    or learnt from ``server_info()``), else when the server answers 404 ROUTE_NOT_FOUND to an
    operation that only some versions have. ``operation``: its name; ``versions``: the Directus
    majors that have it; ``server_version``: the server's version, or None when it is not known.
    ``status`` is None when nothing was sent, 404 otherwise. A ForbiddenError (NotFoundError), the
    class a 404 maps to, so that existing ``except`` clauses still catch it.
    """

    operation: str
    versions: Tuple[int, ...]
    server_version: Optional[str]

    def __init__(self, message: str, *, operation: str = "", versions: Iterable[int] = (),
                 server_version: Optional[str] = None, **answer: Any) -> None:
        super().__init__(message, **answer)
        self.operation = operation
        self.versions = tuple(versions)
        self.server_version = server_version

    def __str__(self) -> str:
        if self.status is None:  # nothing was sent
            return self.message
        return "%s (%s %s %s)" % (self.message, self.status, self.method, self.url)


class BadRequestError(APIError):
    """400 and other 4xx statuses without a more precise class."""


class InvalidPayloadError(BadRequestError):
    """The request body was refused: INVALID_PAYLOAD, FAILED_VALIDATION and their kin."""


class InvalidQueryError(BadRequestError):
    """The query parameters were refused: INVALID_QUERY."""


class UniqueConflictError(BadRequestError):
    """A value that must be unique already exists: RECORD_NOT_UNIQUE."""


class RateLimitedError(APIError):
    """429: too many requests. ``retry_after`` is the server's wait in seconds, or None."""


class ServerError(APIError):
    """5xx, or an answer that is not a Directus error body (an HTML page from a proxy, say)."""


class TransportError(DirectusError):
    """No usable answer came back.

    ``may_have_been_processed`` is True when the request had been sent before the failure,
    so the server may have acted on it: such a POST or PATCH is never sent again by itself.
    The message says so only for a method that writes (a GET that may have been read is no
    news). ``attempts`` holds each try of the request (``Attempt`` records, the last one this
    failure), so that a call that took long says why.
    """

    message: str
    method: Optional[str]
    url: Optional[str]
    may_have_been_processed: bool
    attempts: Tuple[Attempt, ...]

    def __init__(self, message: str, *, method: Optional[str] = None, url: Optional[str] = None,
                 may_have_been_processed: bool = False, attempts: Iterable[Attempt] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url
        self.may_have_been_processed = may_have_been_processed
        self.attempts = tuple(attempts)

    def __str__(self) -> str:
        where = " (%s %s)" % (self.method, self.url) if self.method else ""
        tail = ""
        if self.may_have_been_processed and self.method not in _READ_ONLY_METHODS:
            tail = "; the server may have processed the request"
        if len(self.attempts) > 1:
            tail += "; %d attempts" % len(self.attempts)
        return "%s%s%s" % (self.message, where, tail)


class TimeoutError(TransportError):  # noqa: A001 - pydirectus.TimeoutError, as httpx does
    """A connect or read timeout, or the overall deadline across retries, ran out."""


class Attempt:
    """One try of a request, kept on the error a call raises (``error.attempts``), as urllib3's
    ``Retry.history``: what was sent, what came back, and how long the client waited after it."""

    __slots__ = ("method", "url", "status", "error", "wait")

    def __init__(self, method: str, url: str, status: Optional[int], error: Optional[str],
                 wait: Optional[float]) -> None:
        self.method = method
        self.url = url
        self.status = status      # the answer's status, or None when there was no answer
        self.error = error        # why there was no answer (the TransportError's message), or None
        self.wait = wait          # seconds waited before the next attempt; None for the last one

    def __repr__(self) -> str:
        outcome = str(self.status) if self.status is not None else self.error
        after = ", then waited %.2f s" % self.wait if self.wait is not None else ""
        return "<Attempt %s %s -> %s%s>" % (self.method, self.url, outcome, after)


# Directus error codes (@directus/errors) by class; a code not listed falls back on the status.
_CLASS_BY_CODE: Dict[str, Type[APIError]] = {
    "INVALID_CREDENTIALS": AuthenticationError,
    "TOKEN_EXPIRED": AuthenticationError,
    "INVALID_TOKEN": AuthenticationError,
    "INVALID_OTP": AuthenticationError,
    "INVALID_IP": AuthenticationError,
    "USER_SUSPENDED": AuthenticationError,
    "FORBIDDEN": ForbiddenError,
    "ROUTE_NOT_FOUND": ForbiddenError,
    "INVALID_PAYLOAD": InvalidPayloadError,
    "FAILED_VALIDATION": InvalidPayloadError,
    "INVALID_FOREIGN_KEY": InvalidPayloadError,
    "NOT_NULL_VIOLATION": InvalidPayloadError,
    "VALUE_OUT_OF_RANGE": InvalidPayloadError,
    "VALUE_TOO_LONG": InvalidPayloadError,
    "CONTAINS_NULL_VALUES": InvalidPayloadError,
    "CONTENT_TOO_LARGE": InvalidPayloadError,
    "UNSUPPORTED_MEDIA_TYPE": InvalidPayloadError,
    "INVALID_QUERY": InvalidQueryError,
    "ILLEGAL_ASSET_TRANSFORMATION": InvalidQueryError,
    "RECORD_NOT_UNIQUE": UniqueConflictError,
    "REQUESTS_EXCEEDED": RateLimitedError,
    "EMAIL_LIMIT_EXCEEDED": RateLimitedError,
}


def class_for_code(code: object) -> Optional[Type[APIError]]:
    """The APIError subclass of a Directus error code (REST, GraphQL, the realtime socket's); None
    for a code not listed."""
    return _CLASS_BY_CODE.get(code) if isinstance(code, str) else None


def _class_for_status(status: int) -> Type[APIError]:
    if status == 401:
        return AuthenticationError
    if status in (403, 404):
        return ForbiddenError
    if status == 429:
        return RateLimitedError
    if 400 <= status < 500:
        return BadRequestError
    return ServerError


def parse_retry_after(value: Optional[str], now_epoch: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime  # rare path: keep email out of import time
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if now_epoch is None:
        import time
        now_epoch = time.time()
    return max(0.0, when.timestamp() - now_epoch)


def is_whole(value: object, minimum: Optional[int] = 0) -> TypeGuard[int]:
    """Whether ``value`` is an int (not a bool: True is an int to Python) of at least ``minimum``
    (None: any int): the check of every count, size and position argument, each raising its own
    message."""
    return isinstance(value, int) and not isinstance(value, bool) and (minimum is None or value >= minimum)


def error_code(errors: object) -> Any:
    """``extensions.code`` of the first entry of a Directus ``errors`` list (REST, GraphQL, the
    realtime socket's), as the server sent it; None when there is none."""
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else None
    extensions = first.get("extensions") if first is not None else None
    return extensions.get("code") if isinstance(extensions, dict) else None


def answer_error_code(body: Optional[bytes]) -> Any:
    """The Directus error code of an answer's body, or None when the body is not a Directus error."""
    try:
        document = json.loads(body) if body else None
    except ValueError:
        return None
    return error_code(document.get("errors")) if isinstance(document, dict) else None


def error_from_response(status: int, headers: Headers, body: Optional[bytes], method: Optional[str],
                        url: Optional[str], attempts: Iterable[Attempt] = ()) -> APIError:
    """The APIError that a non-2xx answer stands for (``headers`` has a case-insensitive .get);
    ``attempts`` is the history of the request (``Response.attempts``)."""
    if body is None:  # Response.body of a streamed answer; the transports read an error's body whole
        body = b""
    errors: List[Dict[str, Any]] = []
    try:
        document = json.loads(body) if body else None
        if isinstance(document, dict) and isinstance(document.get("errors"), list):
            errors = [e for e in document["errors"] if isinstance(e, dict)]
    except ValueError:
        pass
    code: Any
    if errors:
        code = error_code(errors)
        message = str(errors[0].get("message") or code or "error")
        cls = class_for_code(code) or _class_for_status(status)
    else:
        code = None
        snippet = body[:_SNIPPET_LENGTH].decode("utf-8", "replace").strip()
        content_type = headers.get("Content-Type") or "no content type"
        message = "unexpected %s answer that is not a Directus error (%s)%s" % (
            status, content_type, ": %r" % snippet if snippet else ", empty body")
        cls = _class_for_status(status) if status < 500 else ServerError
    retry_after = parse_retry_after(headers.get("Retry-After")) if status in (429, 503) else None
    return cls(message, status=status, code=code, errors=errors, method=method, url=url, body=body,
               retry_after=retry_after, attempts=attempts)
