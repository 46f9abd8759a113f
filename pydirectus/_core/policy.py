"""The request policy: what happens around every request, as generator flows free of I/O.

``request_flow`` attaches the credentials (logging in lazily, refreshing shortly before expiry),
sends the request with retries, and on 401 TOKEN_EXPIRED refreshes and replays it once.
A request is never sent without credentials because authentication failed: the failure is
raised instead. ``call_flow`` is every operation call's path: one request, or a bulk write in
chunks (``bulk``), decoded into what the method returns. The flows yield effects (``Send``,
``Sleep``, ``Authenticate``) that each room's runner performs.
"""

from __future__ import annotations

from .auth import TokenState, authenticate_flow
from .bulk import chunkable, chunked_write_flow, refused_for_batch_size
from .effects import Authenticate, Send, Sleep
from ..errors import Attempt, AuthenticationError, TimeoutError, TransportError, answer_error_code
from .records import decode_result, redirect_target
from .retry import is_read_timeout

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from typing import Any, Callable, Dict, List, Optional, Type, Union

    from ..models import Item
    from .bulk import BatchLimits
    from .spec import Operation

    from .auth import Credentials
    from .effects import Flow
    from .records import Body, Request, Response
    from .retry import RetryBudget, RetryPolicy

__all__ = ["RequestPolicy", "MAX_REDIRECTS", "COMPRESS_FROM", "compressed_json"]

MAX_REDIRECTS = 5
# JSON request bodies from this size on go gzip-compressed (Content-Encoding: gzip), which every
# Directus takes (10, 11 and 12: their JSON body parser inflates it). On a network it saves most of
# the upload; on loopback it costs about 5 ms per MB each way, next to the server's 300 ms and more
# for writing a MB of items.
COMPRESS_FROM = 16 * 1024
_COMPRESS_LEVEL = 1  # zlib's fastest: JSON still shrinks 3-5x


def _rewound(body: Optional[Body]) -> bool:
    """Whether ``body`` can be sent again, made ready to be. Bytes always can; a streamed body (an
    upload) has a ``rewind()`` that makes its next iteration start over, and answers False when it
    cannot (a one-shot stream already partly sent). ``rewind()`` does no I/O: the body seeks when
    it is read."""
    if body is None or isinstance(body, (bytes, bytearray, memoryview, str)):
        return True
    rewind = getattr(body, "rewind", None)
    return rewind is not None and rewind() is True


def _not_sent_again(error: TransportError, request: Request) -> TransportError:
    """``error``, told that the request is not sent again because its body cannot be."""
    message = "%s; not sent again: its body is a stream that was already read and cannot be rewound" % (
        error.message,)
    return type(error)(message, method=request.method, url=request.url,
                       may_have_been_processed=error.may_have_been_processed)


def _attempt(request: Request, outcome: Union[Response, TransportError], wait: Optional[float]) -> Attempt:
    """The ``Attempt`` record of one try of ``request``: an answer or the TransportError it got."""
    if isinstance(outcome, Exception):
        return Attempt(request.method, request.url, None, outcome.message, wait)
    return Attempt(request.method, request.url, outcome.status, None, wait)


def _with_history(error: TransportError, history: List[Attempt], request: Request,
                  last: Union[Response, TransportError]) -> TransportError:
    """``error`` with the tries before it and ``last``, the failure that ended them, as its ``attempts``."""
    if history:
        error.attempts = tuple(history) + (_attempt(request, last, None),)
    return error


def _is_token_expired(response: Response) -> bool:
    return response.status == 401 and answer_error_code(response.body) == "TOKEN_EXPIRED"


def compressed_json(request: Request, threshold: int) -> Optional[Request]:
    """``request`` with its JSON body gzip-compressed, when the body is bytes of at least
    ``threshold`` and shrinks by a tenth or more; None otherwise (a file upload is multipart or a
    stream, never compressed: most files that matter are compressed already)."""
    body = request.body
    if type(body) is not bytes or len(body) < threshold:
        return None
    headers = request.headers
    content_type = headers.get("Content-Type") or headers.get("content-type") or ""
    if not content_type.startswith("application/json") or "Content-Encoding" in headers:
        return None
    import zlib
    compressor = zlib.compressobj(_COMPRESS_LEVEL, zlib.DEFLATED, 31)  # 31: the gzip format
    packed = compressor.compress(body) + compressor.flush()
    if len(packed) > len(body) * 0.9:
        return None
    compressed = request.with_headers({"Content-Encoding": "gzip"})
    compressed.body = packed
    return compressed


def _refused_encoding(response: Response) -> bool:
    """Whether the server (or a proxy) refused a compressed body: 415, or 400 naming the encoding."""
    if response.status == 415:
        return True
    return response.status == 400 and b"content encoding" in (response.body or b"").lower()


class RequestPolicy:
    """The I/O-free state of one client: where, who, and how to retry.

    ``clock`` is a monotonic clock in seconds (injectable for tests); ``deadline`` bounds the
    time a request may spend in retries, in seconds (None: no bound).
    """

    base_url: str
    credentials: Credentials
    base_headers: Dict[str, str]
    retry: RetryPolicy
    budget: Optional[RetryBudget]
    clock: Callable[[], float]
    deadline: Optional[float]
    tokens: TokenState
    auth_headers: Dict[str, str]
    compress_from: Optional[int]

    def __init__(self, base_url: str, credentials: Credentials, base_headers: Dict[str, str], retry: RetryPolicy,
                 clock: Callable[[], float], deadline: Optional[float] = None) -> None:
        self.base_url = base_url
        self.credentials = credentials
        self.base_headers = base_headers
        self.retry = retry
        self.budget = retry.new_budget()  # this client's retry budget (None: the policy has none)
        self.clock = clock
        self.deadline = deadline
        self.tokens = TokenState()
        # the size from which JSON bodies go compressed; None: never (the server refused the encoding)
        self.compress_from = COMPRESS_FROM
        # the headers of requests that carry credentials; a password session adds its token per request
        self.auth_headers = base_headers
        if credentials.static_token is not None:  # credentials.kind == "static"
            self.auth_headers = dict(base_headers, Authorization="Bearer " + credentials.static_token)

    def headers_for(self, auth: bool) -> Dict[str, str]:
        """The headers to build a request with: with the static token when ``auth`` and there is one."""
        return self.auth_headers if auth else self.base_headers

    def send_with_retries(self, request: Request) -> Flow[Response]:
        """Send ``request``, again when the retry policy and the budget say so; the result is the
        last Response. Its ``attempts`` (or the raised error's) record every try when there were
        several."""
        started = self.clock()
        budget = self.budget
        if budget is not None:
            budget.deposit()
        retry_number = 0
        paced_retries = 0  # the waits the server asked for, counted apart (RetryPolicy.paced_retries)
        read_timeouts = 0
        history: List[Attempt] = []
        while True:
            try:
                response = yield Send(request)
            except TransportError as error:  # the drivers throw only TransportErrors into a flow from Send
                if is_read_timeout(error):
                    read_timeouts += 1
                delay = self.retry.delay_after_error(request, error, retry_number, read_timeouts)
                failure: Union[Response, TransportError] = error
                paced = False
            else:
                delay, paced = self.retry.delay_after_response(request, response, retry_number, paced_retries)
                failure = response
            if delay is not None and not _rewound(request.body):
                if isinstance(failure, Exception):
                    raise _with_history(_not_sent_again(failure, request), history, request, failure) from failure
                delay = None
            if delay is not None and self.deadline is not None and self.clock() + delay - started > self.deadline:
                if isinstance(failure, Exception):
                    gave_up = TimeoutError("gave up retrying: the %.1f s deadline would pass (last error: %s)"
                                           % (self.deadline, failure), method=request.method, url=request.url,
                                           may_have_been_processed=failure.may_have_been_processed)
                    raise _with_history(gave_up, history, request, failure) from failure
                delay = None
            # a wait the server asked for is its own pacing, not load the budget guards against
            if delay is not None and budget is not None and not paced and not budget.withdraw():
                delay = None
            if delay is None:
                if isinstance(failure, Exception):
                    raise _with_history(failure, history, request, failure)
                if history:
                    history.append(_attempt(request, failure, None))
                    failure.attempts = tuple(history)
                return failure
            history.append(_attempt(request, failure, delay))
            if paced:
                paced_retries += 1
            else:
                retry_number += 1
            yield Sleep(delay)

    def call_flow(self, operation: Operation, request: Request, data: object, limits: BatchLimits,
                  model: Optional[Type[Item]] = None) -> Flow[Any]:
        """One call of ``operation``: a single request, or chunks when the write is too large (or
        the server refuses its size); the result is what the method returns."""
        split = chunkable(operation, data) if request.body is not None else None
        if split is not None and (len(split[0]) > limits.max_items
                                  or len(request.body) > limits.max_bytes):  # type: ignore[arg-type]  # JSON: bytes
            return (yield from chunked_write_flow(self, operation, request.url, request.headers, data, limits, model))
        response = yield from self.request_flow(request)
        if split is not None and len(split[0]) > 1 and refused_for_batch_size(response):  # nothing was written
            return (yield from chunked_write_flow(self, operation, request.url, request.headers, data, limits, model))
        return decode_result(operation, response, model)

    def request_flow(self, request: Request) -> Flow[Response]:
        """Send one API request with credentials, retries, one replay after TOKEN_EXPIRED, and
        redirects followed (at most MAX_REDIRECTS; credentials stay with their origin). A large
        JSON body goes gzip-compressed (``compress_from``), and as it is after a refusal of the
        encoding."""
        for _ in range(MAX_REDIRECTS + 1):
            threshold = self.compress_from
            body = request.body  # the checks of compressed_json that fail for most requests, without a call
            compressed = compressed_json(request, threshold) if threshold is not None and type(body) is bytes \
                and len(body) >= threshold else None
            if compressed is None:
                response = yield from self._authorized_flow(request)
            else:
                response = yield from self._authorized_flow(compressed)
                if _refused_encoding(response):  # refused before it was read: send it as it is, and
                    self.compress_from = None    # nothing compressed to this server again
                    response = yield from self._authorized_flow(request)
            following = redirect_target(request, response)
            if following is None:
                return response
            if following.body is not None and not _rewound(following.body):
                return response  # a 307/308 would need the body again, and it is gone
            request = following
        raise TransportError("more than %d redirects" % MAX_REDIRECTS, method=request.method, url=request.url,
                             may_have_been_processed=True)

    def _authorized_flow(self, request: Request) -> Flow[Response]:
        if not request.auth or self.credentials.kind != "password":
            return (yield from self.send_with_retries(request))
        tokens = self.tokens
        replayed = False
        while True:
            if not tokens.usable(self.clock()):
                yield Authenticate(authenticate_flow(self, tokens.generation))
            token, generation = tokens.access_token, tokens.generation
            if token is None:  # never send without credentials
                raise AuthenticationError("no access token after authenticating", method=request.method,
                                          url=request.url)
            response = yield from self.send_with_retries(
                request.with_headers({"Authorization": "Bearer " + token}))
            if replayed or not _is_token_expired(response) or not _rewound(request.body):
                return response
            replayed = True
            yield Authenticate(authenticate_flow(self, generation))
