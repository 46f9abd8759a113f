"""Directus realtime over WebSockets: subscriptions, items and GraphQL subscriptions.

    with client.realtime() as rt:
        for event in rt.subscribe("articles", query={"fields": ["id", "title"]}):
            print(event.type, event.data)

How it is built, from the wire up:

- ``websocket.ClientConnection`` (imported when a connection opens): RFC 6455 without I/O.
- The protocol cores, free of I/O: ``_DirectusCore`` speaks Directus's JSON protocol on
  ``/websocket`` and ``_GraphQLCore`` graphql-transport-ws on ``/graphql``, both on ``_Core``:
  subscriptions with bounded queues, replies matched by string uid, the token schedule, liveness
  and the reconnect backoff. They take text messages, the time and tokens in, and hand out the
  messages to send and what their driver must do (fetch a token, close, wait, reconnect). The
  clock and the random source are injected; the sync and the async driver run them unchanged.
- What both drivers share, without I/O: ``_ConnectionBase`` (the URL, the WebSocket of each attempt,
  moving messages between core and WebSocket, the bookkeeping of a connection's end, waits as
  polls), the token flow ``auth.access_token_flow`` (run by the client's own driver), the route
  (``_socket_route``: the client's proxies and TLS), and the public classes' non-blocking halves
  (``_Endpoint``, ``_DirectusEndpoint``, ``_GraphQLEndpoint``, ``_SubscriptionBase``, ``_ItemsBase``,
  ``_Exchange``: settings discovery as a flow, subscribing, a request and its reply).
- ``_SyncConnection``: the thin sync I/O. It opens the socket (TCP, an HTTP CONNECT proxy, TLS
  with the client's settings), runs the handshake, and owns the socket from one reader thread:
  other threads hand it messages and wake it, so frames never interleave and TLS is never used
  from two threads. Tokens are fetched on a helper thread, so server pings are answered meanwhile.
  ``async_realtime._AsyncConnection`` is its asyncio twin, for ``AsyncDirectusClient``.
- ``Realtime``, ``Subscription``, ``RealtimeEvent``: what ``client.realtime()`` gives.

Directus facts this relies on (measured against 12.4.0, see shared/realtime-notes.md): the
server never answers RFC 6455 pings, it pings with ``{"type":"ping"}`` and closes a client silent
for one period; a token expiring on the socket drops the events of the gap, so the socket
re-authenticates before expiry with a token from the client's own token manager (never spending
the REST session's single-use refresh token on the socket); errors without a uid belong to the
connection; a subscribe error carries its uid; a server restart loses the events of the outage,
hence the ``reconnected`` marker.
"""

from __future__ import annotations

import collections
import json

from .._core.auth import access_token_flow
from ..errors import (APIError, AuthenticationError, BadRequestError, DirectusError, ForbiddenError,
                     RateLimitedError, ServerError, TimeoutError, TransportError, _CLASS_BY_CODE, error_code)
from .._core.records import decode_raw, models

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - for type checkers only: typing stays out of import time
    import enum
    import socket
    import ssl
    import threading
    from collections import Counter, deque
    from logging import Logger
    from typing import (Any, Callable, ContextManager, Dict, Final, Generator, Iterator, List, Mapping, Optional,
                        Sequence, Tuple, Type, TypeVar, Union)

    from ..models import Item
    from .._core.websocket import ClientConnection, Closed, _Event

    _Clock = Callable[[], float]
    # where a socket goes: (host, port, proxy (host, port) or None, proxy headers, SSL context or None)
    _Route = Tuple[str, int, Optional[Tuple[str, int]], Dict[str, str], Optional[ssl.SSLContext]]
    # a freshly opened connection: (stream, WebSocket, token, its expiry, the events after the handshake)
    _Opened = Tuple[Any, ClientConnection, Optional[str], Optional[float], List[_Event]]
    _Settings = Dict[str, Any]
    _T = TypeVar("_T")
    _S = TypeVar("_S", bound="_SyncEndpoint")

__all__ = ["RealtimeMixin", "Realtime", "Subscription", "RealtimeEvent", "RealtimeItems", "GraphQLRealtime"]

DEFAULT_QUEUE_SIZE = 1000
DEFAULT_HEARTBEAT = 30.0     # Directus's WEBSOCKETS_HEARTBEAT_PERIOD default
GRAPHQL_KEEPALIVE = 15.0     # graphql-ws has no server heartbeat: we ping this often when idle
DEFAULT_MAX_SIZE = 64 * 1024 * 1024  # the init of a large collection is one message
STABLE_AFTER = 60.0          # a connection up this long resets the backoff
MIN_REAUTH_INTERVAL = 0.5    # never re-authenticate more often than this
JWT_SECOND_SLACK = 1.0       # JWT exp is whole seconds, cut down: a token may end 1 s before `expires`
CLOSE_TIMEOUT = 2.0          # how long close() waits for the server's close frame
_MAX_FORBIDDEN_UPGRADES = 5  # 403 on the upgrade: connection limit (retry), or Origin/license (never works)
_EVENTS = ("create", "update", "delete")
# Codes the Directus realtime handlers use that the REST table does not know.
_SOCKET_CODES: Dict[str, Type[APIError]] = {"AUTH_FAILED": AuthenticationError, "AUTH_TIMEOUT": AuthenticationError,
                 "TOKEN_EXPIRED": AuthenticationError}
_STATUS_OF_CLASS: Dict[Type[APIError], int] = {AuthenticationError: 401, ForbiddenError: 403, RateLimitedError: 429,
                                                ServerError: 500}
# graphql-transport-ws closes that another attempt cannot fix: bad subprotocol, forbidden, bad message.
_GRAPHQL_FATAL_CLOSES = {4400: "bad request", 4403: "forbidden", 4406: "subprotocol not acceptable"}


def _error_from_message(message: Dict[str, Any], where: str) -> APIError:
    """The DirectusError of a ``{"status":"error","error":{"code","message"}}`` socket message."""
    error = message.get("error")
    if not isinstance(error, dict):
        error = {}
    code: Any = error.get("code")  # as the server sent it
    text = str(error.get("message") or code or "error")
    cls: Type[APIError] = _SOCKET_CODES.get(code) or _CLASS_BY_CODE.get(code) or BadRequestError
    if isinstance(code, str) and code.startswith("INTERNAL"):
        cls = ServerError
    errors = [{"message": text, "extensions": {"code": code}}]
    return cls(text, status=_STATUS_OF_CLASS.get(cls, 400), code=code, errors=errors,
               method="WS " + str(message.get("type")), url=where)


def _graphql_error(errors: List[Any], where: str) -> APIError:
    """The DirectusError of a GraphQL ``errors`` list."""
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    code = error_code(errors)
    cls: Type[APIError] = _CLASS_BY_CODE.get(code) or BadRequestError
    return cls(str(first.get("message") or code or "GraphQL error"), status=_STATUS_OF_CLASS.get(cls, 400),
               code=code, errors=[e for e in errors if isinstance(e, dict)], method="WS graphql", url=where)


def _jwt_lifetime(token: Optional[str]) -> Optional[float]:
    """``exp - iat`` of a JWT in seconds, or None for a token that is not one (no verification)."""
    parts: Sequence[str] = token.split(".") if isinstance(token, str) else ()
    if len(parts) != 3:
        return None
    import base64
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return float(payload["exp"]) - float(payload["iat"])
    except (ValueError, KeyError, TypeError):
        return None


def _as_items(data: Any, meta: Optional[Dict[str, Any]], model: Optional[Type[Item]]) -> Any:
    """Records as the REST methods give them: a list of dicts is an ItemList, a dict an Item."""
    classes = models()
    cls = model or classes.Item
    if isinstance(data, list) and all(isinstance(record, dict) for record in data):
        return classes.ItemList([cls.from_dict(record) for record in data], meta)
    if isinstance(data, dict):
        return cls.from_dict(data)
    return data


# --- events and queues (no I/O) ------------------------------------------------------------

class RealtimeEvent:
    """One thing a subscription yields.

    ``type`` is the server's event (``"init"``, ``"create"``, ``"update"``, ``"delete"``;
    ``"next"`` for GraphQL) or a marker of this client:

    - ``"error"``: the server reported an error on this subscription (``error``, a
      DirectusError); the subscription goes on. A FORBIDDEN here means an event was lost.
    - ``"gap"``: the queue was full and ``lost`` events were dropped: re-read what you need.
    - ``"reconnected"``: the connection was lost and is back, the subscription is sent again;
      events of the outage are lost. An ``init`` follows (with the current data when the
      subscription has no ``event`` filter).

    ``data``: for ``init``/``create``/``update`` the records (an ItemList of Items, or one Item
    for an ``item`` subscription); for ``delete`` the keys as the server sent them; for GraphQL the
    ``data`` of the result. ``keys``: the deleted keys as strings (deletes only). ``meta``: the
    counts when the query asked for ``meta``. ``uid``: the subscription's uid.
    """

    __slots__ = ("type", "data", "keys", "meta", "error", "lost", "uid")

    type: str
    data: Any
    keys: Optional[List[str]]
    meta: Optional[Dict[str, Any]]
    error: Optional[DirectusError]
    lost: int
    uid: Optional[str]

    def __init__(self, type: str, data: Any = None, keys: Optional[List[str]] = None,  # noqa: A002
                 meta: Optional[Dict[str, Any]] = None, error: Optional[DirectusError] = None, lost: int = 0,
                 uid: Optional[str] = None) -> None:
        self.type = type
        self.data = data
        self.keys = keys
        self.meta = meta
        self.error = error
        self.lost = lost
        self.uid = uid

    def __repr__(self) -> str:
        shown = ["%s=%r" % (name, getattr(self, name)) for name in self.__slots__[1:]
                 if getattr(self, name) not in (None, 0)]
        return "<RealtimeEvent %s%s>" % (self.type, (" " + " ".join(shown)) if shown else "")


class _SubscriptionState:
    """A subscription as the core keeps it: the message that (re)creates it and a bounded queue.

    ``status``: ``pending`` (sent, no answer yet), ``active``, ``failed`` (``error`` says why) or
    ``ended``. The queue holds ``maxsize`` events plus at most one ``gap`` marker: a reader that
    cannot keep up loses events, never the connection (the reader thread must keep answering
    pings).
    """

    __slots__ = ("uid", "message", "queue", "maxsize", "status", "error", "model", "sent", "label", "gaps")

    def __init__(self, uid: str, message: Dict[str, Any], maxsize: int, model: Optional[Type[Item]] = None,
                 label: str = "") -> None:
        self.uid = uid
        self.message = message
        self.queue: deque[RealtimeEvent] = collections.deque()
        self.maxsize = maxsize
        self.status = "new"
        self.error: Optional[Exception] = None
        self.model = model
        self.sent = 0
        self.label = label
        self.gaps = 0  # gap markers in the queue: they do not count against maxsize

    def put(self, event: RealtimeEvent) -> None:
        queue = self.queue
        if len(queue) - self.gaps < self.maxsize:
            queue.append(event)
        elif queue[-1].type == "gap":
            queue[-1].lost += 1
        else:
            queue.append(RealtimeEvent("gap", lost=1, uid=self.uid))
            self.gaps += 1

    def take(self) -> Optional[RealtimeEvent]:
        """The oldest event, or None."""
        if not self.queue:
            return None
        event = self.queue.popleft()
        if event.type == "gap":
            self.gaps -= 1
        return event

    def fail(self, error: Exception) -> None:
        self.status = "failed"
        self.error = error

    def end(self) -> None:
        if self.status != "failed":
            self.status = "ended"

    @property
    def finished(self) -> bool:
        return self.status in ("failed", "ended")


class _Pending:
    """A request waiting for the reply with its uid."""

    __slots__ = ("kind", "deadline", "done", "result", "error")

    def __init__(self, kind: str, deadline: Optional[float]) -> None:
        self.kind = kind
        self.deadline = deadline
        self.done = False
        self.result: Optional[Dict[str, Any]] = None
        self.error: Optional[Exception] = None

    def resolve(self, result: Dict[str, Any]) -> None:
        self.done, self.result = True, result

    def fail(self, error: Exception) -> None:
        self.done, self.error = True, error


# --- the protocol cores (no I/O) -----------------------------------------------------------

class _Core:
    """What both realtime protocols share, without I/O.

    States: ``idle`` (never connected), ``authenticating`` (socket open, credentials sent),
    ``ready``, ``waiting`` (lost: waiting to reconnect), ``closed`` (for good: ``fatal`` says why
    when it was not the application's ``close()``).

    The driver calls ``connection_opened``, ``message_received``, ``connection_lost``,
    ``connect_failed``, ``token_ready``/``token_failed`` and ``tick`` (with the time), then sends
    ``take_outgoing()``, fetches a token when ``token_wanted``, closes the socket when
    ``close_wanted``, and wakes up again by ``next_deadline()``. Test hooks: ``answer_pings``,
    ``proactive_reauth``, ``reactive_reauth``.
    """

    subprotocols: Tuple[str, ...] = ()
    fatal_closes: Dict[int, str] = {}
    auth_mode: str  # each protocol's: handshake, strict or public

    # set when a connection opens (None before the first), read only while authenticating or ready
    last_received: float
    auth_deadline: float

    if TYPE_CHECKING:  # what each protocol gives
        def message_received(self, now: float, text: str) -> None: ...
        def unsubscribe(self, uid: str) -> None: ...

    def __init__(self, clock: _Clock, random: _Clock, where: str = "", heartbeat: Optional[float] = None,
                 request_timeout: float = 30.0, queue_size: int = DEFAULT_QUEUE_SIZE,
                 auth_timeout: float = 10.0) -> None:
        self.clock = clock
        self.random = random
        self.where = where
        self.heartbeat = heartbeat
        self.request_timeout = request_timeout
        self.queue_size = queue_size
        self.auth_timeout = auth_timeout
        self.state = "idle"
        self.subscriptions: Dict[str, _SubscriptionState] = {}  # by uid, in the order they were made
        self.pending: Dict[str, _Pending] = {}  # by uid
        self._outgoing: List[str] = []
        self._counters: Counter[str] = collections.Counter()
        self.connections = 0      # connections that became ready
        self.failures = 0         # attempts failed since the backoff was last reset
        self._unauthorized = self._forbidden = self._auth_failures = 0
        self.reconnect_delays: deque[float] = collections.deque(maxlen=100)
        self.ready_since: Optional[float] = None
        self.last_received = None  # type: ignore[assignment]  # a float once a connection opens, see above
        self.auth_deadline = None  # type: ignore[assignment]
        # a DirectusError, or what else escaped the opening of the first connection
        self.last_error: Optional[Exception] = None
        self.fatal: Optional[Exception] = None
        self.close_wanted: Optional[Tuple[int, str]] = None
        self.token: Optional[str] = None
        self.token_expires_at: Optional[float] = None
        self.reauth_at: Optional[float] = None
        self.token_wanted = False
        self.errors: deque[DirectusError] = collections.deque(maxlen=100)  # errors that belong to no request
        self.stats: Counter[str] = collections.Counter()
        self.answer_pings = True
        self.proactive_reauth = True
        self.reactive_reauth = True

    # --- helpers -------------------------------------------------------------------------
    def _next_uid(self, prefix: str) -> str:
        self._counters[prefix] += 1
        return "%s%d" % (prefix, self._counters[prefix])

    def _decoded(self, now: float, text: str) -> Optional[Dict[str, Any]]:
        """The JSON object a message holds, or None (a message that is not JSON is recorded)."""
        self.last_received = now
        try:
            message = json.loads(text)
        except ValueError:
            self.errors.append(TransportError("the server sent a message that is not JSON: %r" % text[:100],
                                              url=self.where))
            return None
        return message if isinstance(message, dict) else None

    def _send(self, message: Dict[str, Any]) -> None:
        self._outgoing.append(json.dumps(message, separators=(",", ":")))

    def take_outgoing(self) -> List[str]:
        """The text messages to send now, in order."""
        outgoing, self._outgoing = self._outgoing, []
        return outgoing

    def _fail_pending(self, error: Exception) -> None:
        pending, self.pending = self.pending, {}
        for request in pending.values():
            request.fail(error)

    def _fatal(self, error: Exception) -> None:
        """Give up for good: every subscription and request ends with ``error``."""
        self.fatal = self.last_error = error
        if self.state in ("authenticating", "ready"):
            self.close_wanted = (1000, "")
        self.state = "closed"
        for subscription in self.subscriptions.values():
            if not subscription.finished:
                subscription.fail(error)
        self.subscriptions = {}
        self._fail_pending(error)

    # --- the connection's life ---------------------------------------------------------
    def resource(self, path: str, token: Optional[str]) -> str:
        """The request target of the upgrade."""
        return path

    def connection_opened(self, now: float, token: Optional[str], expires_at: Optional[float]) -> None:
        """The WebSocket handshake succeeded; ``token`` (or None) authenticates the session."""
        if self.state == "closed":
            return
        self.state = "authenticating"
        self.last_received = now
        self.auth_deadline = now + self.auth_timeout
        self.close_wanted = None
        self.token, self.token_expires_at = token, expires_at
        self.token_wanted = False
        self.reauth_at = None
        self.stats["connections_opened"] += 1
        self._open_protocol(now)

    def _open_protocol(self, now: float) -> None:
        self._ready(now)

    def _ready(self, now: float) -> None:
        reconnected = self.connections > 0
        self.connections += 1
        self.state = "ready"
        self.ready_since = now
        self._unauthorized = self._forbidden = self._auth_failures = 0
        self._schedule_reauth(now)
        for subscription in list(self.subscriptions.values()):
            if reconnected and subscription.sent:
                subscription.put(RealtimeEvent("reconnected", uid=subscription.uid))
            self._send_subscribe(subscription)

    def _send_subscribe(self, subscription: _SubscriptionState) -> None:
        subscription.status = "pending"
        subscription.sent += 1
        self.stats["subscribes_sent"] += 1
        self._send(subscription.message)

    def connection_lost(self, now: float, error: Exception, code: Optional[int] = None) -> None:
        """The socket ended (``error`` says how; ``code`` is the peer's close code, if any)."""
        if self.state in ("closed", "idle", "waiting"):
            return
        self.stats["disconnects"] += 1
        self._outgoing = []  # never sent: what matters is sent again once the connection is back
        if self.ready_since is not None and now - self.ready_since >= STABLE_AFTER:
            self.failures = 0
        self.ready_since = None
        self.close_wanted = None
        self.token_wanted = False
        self.reauth_at = None
        if self.last_error is None or self.state == "ready":
            self.last_error = error
        if code in self.fatal_closes:
            self._fatal(TransportError("the server closed the connection with %d (%s)"
                                       % (code, self.fatal_closes[code]), url=self.where))
            return
        if self.connections == 0:  # the first connection never got ready: fail fast, do not loop
            self._fatal(self.last_error)
            return
        if self._auth_failures >= 2:
            self._fatal(self.last_error)
            return
        self.state = "waiting"
        self._fail_pending(TransportError("the connection was lost before the reply came", url=self.where,
                                          may_have_been_processed=True))
        for subscription in self.subscriptions.values():
            if subscription.status == "active":
                subscription.status = "pending"

    def connect_failed(self, now: float, error: DirectusError) -> None:
        """A reconnection attempt failed with ``error`` (a DirectusError): retry later or give up."""
        if self.state == "closed":
            return
        self.failures += 1
        self.last_error = error
        self.stats["failed_attempts"] += 1
        if isinstance(error, AuthenticationError):
            self._unauthorized += 1
            if self._unauthorized >= 2:  # a fresh token was refused too
                self._fatal(error)
        elif isinstance(error, ForbiddenError):
            self._forbidden += 1
            if self._forbidden >= _MAX_FORBIDDEN_UPGRADES:
                self._fatal(error)
        elif isinstance(error, APIError) and not isinstance(error, (ServerError, RateLimitedError)):
            self._fatal(error)

    def reconnect_delay(self) -> float:
        """Seconds to wait before the next attempt: full jitter, 0-1 s first, then up to 0.5 s * 2**n."""
        cap = 1.0 if self.failures == 0 else min(30.0, 0.5 * 2 ** self.failures)
        delay = self.random() * cap
        self.reconnect_delays.append(delay)
        return delay

    def close(self) -> None:
        """The application closes: end everything, ask the driver for a close handshake."""
        if self.state == "closed":
            return
        if self.state in ("authenticating", "ready"):
            self.close_wanted = (1000, "")
        self.state = "closed"
        for subscription in self.subscriptions.values():
            subscription.end()
        self.subscriptions = {}
        self._fail_pending(TransportError("the realtime connection was closed", url=self.where))

    # --- time ----------------------------------------------------------------------------
    def silence_limit(self) -> Optional[float]:
        """Seconds without any message after which the connection counts as dead (None: never)."""
        return None if not self.heartbeat else 2 * self.heartbeat + 5.0

    def tick(self, now: float) -> None:
        """Act on what is due at ``now``: liveness, authentication and request deadlines, re-auth."""
        if self.state in ("authenticating", "ready") and self.close_wanted is None:
            limit = self.silence_limit()
            if limit is not None and now - self.last_received > limit:
                self.stats["silence_timeouts"] += 1
                self.last_error = TimeoutError("no message from the server for %.0f s: the connection is "
                                               "dead" % (now - self.last_received), url=self.where)
                self.close_wanted = (1000, "")
            elif self.state == "authenticating" and now > self.auth_deadline:
                self.last_error = TimeoutError("the server did not answer the authentication in %.0f s"
                                               % self.auth_timeout, url=self.where)
                self.close_wanted = (1000, "")
            elif self.state == "ready" and self.reauth_at is not None and now >= self.reauth_at:
                self.reauth_at = None
                self.token_wanted = True
        for uid, request in list(self.pending.items()):
            if request.deadline is not None and now >= request.deadline:
                del self.pending[uid]
                request.fail(TimeoutError("no reply to %s request %s within %.0f s" % (
                    request.kind, uid, self.request_timeout), url=self.where, may_have_been_processed=True))

    def next_deadline(self) -> Optional[float]:
        """When ``tick`` next has something to do (None: nothing is scheduled)."""
        times = [request.deadline for request in self.pending.values() if request.deadline is not None]
        if self.state in ("authenticating", "ready"):
            limit = self.silence_limit()
            if limit is not None:
                times.append(self.last_received + limit)
            if self.state == "authenticating":
                times.append(self.auth_deadline)
            elif self.reauth_at is not None:
                times.append(self.reauth_at)
        return min(times) if times else None

    # --- tokens --------------------------------------------------------------------------
    def _schedule_reauth(self, now: float) -> None:
        expires_at = self.token_expires_at
        if expires_at is None or not self.proactive_reauth:
            self.reauth_at = None
            return
        lifetime = _jwt_lifetime(self.token) or max(0.0, expires_at - now)
        margin = min(max(1.0, 0.1 * lifetime), 60.0)
        self.reauth_at = max(now + MIN_REAUTH_INTERVAL, expires_at - JWT_SECOND_SLACK - margin)

    def token_ready(self, now: float, token: Optional[str], expires_at: Optional[float]) -> None:
        """The token the driver fetched because ``token_wanted`` was set."""
        self.token_wanted = False
        if self.state != "ready" or token is None:
            return
        self.token, self.token_expires_at = token, expires_at
        self._reauthenticate(now)

    def token_failed(self, now: float, error: Exception) -> None:
        self.token_wanted = False
        self.errors.append(error)  # type: ignore[arg-type]  # a DirectusError (anything else is a bug, kept as is)
        if self.state == "ready":
            self.reauth_at = now + 2.0  # the server's TOKEN_EXPIRED / AUTH_TIMEOUT path is the fallback

    def _reauthenticate(self, now: float) -> None:
        """Send the new token on the open connection (GraphQL sockets need none)."""

    # --- requests ------------------------------------------------------------------------
    def request(self, now: float, message: Mapping[str, Any], kind: str, timeout: Optional[float] = None) -> _Pending:
        """Send ``message`` with a fresh uid; the _Pending its reply resolves."""
        if self.state != "ready":
            raise TransportError("the realtime connection is not ready (%s)" % self.state, url=self.where)
        uid = self._next_uid("r")
        timeout = self.request_timeout if timeout is None else timeout
        request = self.pending[uid] = _Pending(kind, now + timeout)
        self._send(dict(message, uid=uid))
        return request

    def _add_subscription(self, subscription: _SubscriptionState) -> _SubscriptionState:
        self.subscriptions[subscription.uid] = subscription
        if self.state == "ready":
            self._send_subscribe(subscription)
        return subscription


class _DirectusCore(_Core):
    """Directus's JSON protocol on ``/websocket`` (``auth_mode``: handshake, strict or public)."""

    def __init__(self, clock: _Clock, random: _Clock, auth_mode: str = "handshake", **settings: Any) -> None:
        super().__init__(clock, random, **settings)
        self.auth_mode = auth_mode

    def resource(self, path: str, token: Optional[str]) -> str:
        if self.auth_mode == "strict" and token:
            from urllib.parse import quote
            return "%s?access_token=%s" % (path, quote(token, safe=""))
        return path

    def _open_protocol(self, now: float) -> None:
        if self.token is None or self.auth_mode == "strict":  # strict: the token came in the URL
            self._ready(now)
            return
        uid = self._next_uid("auth")
        self.pending[uid] = _Pending("auth", None)
        self._send({"type": "auth", "access_token": self.token, "uid": uid})

    def _reauthenticate(self, now: float) -> None:
        uid = self._next_uid("auth")
        self.pending[uid] = _Pending("auth", now + self.request_timeout)
        self.stats["reauths_sent"] += 1
        self._send({"type": "auth", "access_token": self.token, "uid": uid})

    def subscribe(self, collection: str, query: Optional[Mapping[str, Any]] = None, event: Optional[str] = None,
                  item: Union[str, int, None] = None, model: Optional[Type[Item]] = None,
                  queue_size: Optional[int] = None) -> _SubscriptionState:
        if not isinstance(collection, str) or not collection:
            raise ValueError("collection must be a non-empty string, got %r" % (collection,))
        if event is not None and event not in _EVENTS:
            raise ValueError("event must be one of %s, or None for all, got %r" % (", ".join(_EVENTS), event))
        if item is not None and (isinstance(item, bool) or not isinstance(item, (str, int))):
            raise ValueError("item must be a primary key (str or int), got %r" % (item,))
        if query is not None and not isinstance(query, dict):
            raise ValueError("query must be a dict (the Directus query object), got %r" % (query,))
        uid = self._next_uid("s")
        message: Dict[str, Any] = {"type": "subscribe", "collection": collection, "uid": uid}
        if event is not None:
            message["event"] = event
        if item is not None:
            message["item"] = item
        if query is not None:
            message["query"] = json.loads(json.dumps(query))  # a copy, and fails now if not JSON
        return self._add_subscription(_SubscriptionState(uid, message, queue_size or self.queue_size, model,
                                                         collection))

    def unsubscribe(self, uid: str) -> None:
        subscription = self.subscriptions.pop(uid, None)
        if subscription is None:
            return
        subscription.end()
        if self.state == "ready":
            self._send({"type": "unsubscribe", "uid": uid})

    def message_received(self, now: float, text: str) -> None:
        message = self._decoded(now, text)
        if message is None:
            return
        kind = message.get("type")
        uid = message.get("uid")
        uid = None if uid is None else str(uid)  # subscription messages echo String(uid)
        if kind == "ping":
            self.stats["pings"] += 1
            if self.answer_pings:
                self._send({"type": "pong"})
            return
        if kind == "subscription":
            self._subscription_message(uid, message)
            return
        if kind == "auth":
            self._auth_message(now, uid, message)
            return
        request = self.pending.pop(uid, None) if uid is not None else None
        if message.get("status") == "error":
            error = _error_from_message(message, self.where)
            subscription = self.subscriptions.get(uid) if kind == "subscribe" else None  # type: ignore[arg-type]
            if subscription is not None:
                self._subscription_error(subscription, error)
            elif request is not None:
                request.fail(error)
            else:
                self.stats["connection_errors"] += 1
                self.errors.append(error)
            return
        if request is not None:
            request.resolve(message)
        # other types (collab, ...) are not ours: ignored, as the server ignores unknown ones

    def _auth_message(self, now: float, uid: Optional[str], message: Dict[str, Any]) -> None:
        request = self.pending.pop(uid, None) if uid is not None else None
        if message.get("status") == "ok":
            self._auth_failures = 0
            if request is not None:
                request.resolve(message)
            if self.state == "authenticating":
                self._ready(now)
            elif self.state == "ready":
                self.stats["reauths"] += 1
                self._schedule_reauth(now)
            return
        error = _error_from_message(message, self.where)
        if request is not None:
            request.fail(error)
        self.errors.append(error)
        if error.code == "TOKEN_EXPIRED":
            self.stats["token_expired"] += 1
            if self.reactive_reauth and self.state == "ready" and not self.token_wanted:
                self.token_wanted = True
        elif error.code == "AUTH_TIMEOUT":
            self.stats["auth_timeouts"] += 1
        elif self.state == "authenticating" or request is not None:
            self._auth_failures += 1  # the server closes after this: retry once with a fresh token
            self.last_error = error

    def _subscription_message(self, uid: Optional[str], message: Dict[str, Any]) -> None:
        subscription = self.subscriptions.get(uid)  # type: ignore[arg-type]  # None (no uid) finds nothing
        event = message.get("event")
        if subscription is None or event == "unsubscribe":
            return
        data, meta = message.get("data"), message.get("meta")
        if event == "init":
            subscription.status = "active"
        if event == "delete":
            keys = data if isinstance(data, list) else [data]
            record = RealtimeEvent("delete", data=data, keys=[str(key) for key in keys], meta=meta, uid=uid)
        else:
            record = RealtimeEvent(str(event), data=_as_items(data, meta, subscription.model), meta=meta, uid=uid)
        self.stats["events"] += 1
        subscription.put(record)

    def _subscription_error(self, subscription: _SubscriptionState, error: DirectusError) -> None:
        if subscription.status == "pending":  # the subscribe itself was refused: it does not exist
            subscription.fail(error)
            self.subscriptions.pop(subscription.uid, None)
        else:  # an event could not be read (a token gap): it is lost, the subscription lives on
            subscription.put(RealtimeEvent("error", error=error, uid=subscription.uid))


class _GraphQLCore(_Core):
    """graphql-transport-ws on ``/graphql``: ``connection_init`` carries the token.

    Directus does not expire tokens on this socket, and it has no heartbeat of its own: the core
    pings when the connection has been idle for ``heartbeat`` seconds.
    """

    subprotocols = ("graphql-transport-ws",)
    fatal_closes = _GRAPHQL_FATAL_CLOSES
    heartbeat: float  # GRAPHQL_KEEPALIVE unless given: never None

    def __init__(self, clock: _Clock, random: _Clock, auth_mode: str = "handshake", **settings: Any) -> None:
        settings.setdefault("heartbeat", GRAPHQL_KEEPALIVE)
        super().__init__(clock, random, **settings)
        self.auth_mode = auth_mode
        self.last_sent: Optional[float] = None

    resource = _DirectusCore.resource

    def _open_protocol(self, now: float) -> None:
        payload = {"access_token": self.token} if self.token and self.auth_mode != "strict" else {}
        self._send({"type": "connection_init", "payload": payload})

    def _schedule_reauth(self, now: float) -> None:
        self.reauth_at = None

    def _send(self, message: Dict[str, Any]) -> None:
        self.last_sent = self.clock()
        super()._send(message)

    def tick(self, now: float) -> None:
        super().tick(now)
        if self.state == "ready" and self.close_wanted is None and now - max(self.last_received, self.last_sent or 0) \
                >= self.heartbeat:
            self._send({"type": "ping"})

    def next_deadline(self) -> Optional[float]:
        deadline = super().next_deadline()
        if self.state == "ready":
            ping_at = max(self.last_received, self.last_sent or 0) + self.heartbeat
            deadline = ping_at if deadline is None else min(deadline, ping_at)
        return deadline

    def subscribe(self, query: str, variables: Optional[Mapping[str, Any]] = None, operation_name: Optional[str] = None,
                  queue_size: Optional[int] = None) -> _SubscriptionState:
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query must be a GraphQL subscription document, got %r" % (query,))
        if variables is not None and not isinstance(variables, dict):
            raise ValueError("variables must be a dict, got %r" % (variables,))
        uid = self._next_uid("g")
        payload: Dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = json.loads(json.dumps(variables))
        if operation_name is not None:
            payload["operationName"] = operation_name
        message = {"id": uid, "type": "subscribe", "payload": payload}
        return self._add_subscription(_SubscriptionState(uid, message, queue_size or self.queue_size,
                                                         label="graphql"))

    def unsubscribe(self, uid: str) -> None:
        subscription = self.subscriptions.pop(uid, None)
        if subscription is None:
            return
        subscription.end()
        if self.state == "ready":
            self._send({"id": uid, "type": "complete"})

    def message_received(self, now: float, text: str) -> None:
        message = self._decoded(now, text)
        if message is None:
            return
        kind = message.get("type")
        if kind == "connection_ack":
            if self.state == "authenticating":
                self._ready(now)
            return
        if kind == "ping":
            self.stats["pings"] += 1
            if self.answer_pings:
                self._send({"type": "pong"})
            return
        subscription = self.subscriptions.get(str(message.get("id")))
        if subscription is None:
            return
        payload = message.get("payload")
        if kind == "next" and isinstance(payload, dict):
            subscription.status = "active"
            self.stats["events"] += 1
            if payload.get("errors"):
                subscription.put(RealtimeEvent("error", error=_graphql_error(payload["errors"], self.where),
                                               data=payload.get("data"), uid=subscription.uid))
            else:
                subscription.put(RealtimeEvent("next", data=payload.get("data"), uid=subscription.uid))
        elif kind == "error":  # terminal for this operation only
            subscription.fail(_graphql_error(payload if isinstance(payload, list) else [], self.where))
            self.subscriptions.pop(subscription.uid, None)
        elif kind == "complete":
            subscription.end()
            self.subscriptions.pop(subscription.uid, None)


# --- what the sync and the async driver share (no I/O) ---------------------------------------

if TYPE_CHECKING:  # for type checkers, a value of its own type, so that ``is _WAIT`` tells it apart
    class _Wait(enum.Enum):
        WAIT = 0
    _WAIT: Final = _Wait.WAIT
else:
    _WAIT = object()  # a poll's answer: nothing yet, wait for the connection's next change


def _translate_connect_error(error: BaseException, url: str) -> DirectusError:
    """A DirectusError for what went wrong while opening a WebSocket."""
    from .._core.websocket import HandshakeError
    import socket
    if isinstance(error, DirectusError):
        return error
    if isinstance(error, HandshakeError):
        status = error.status
        if status is None or status == 101:
            return TransportError("WebSocket handshake failed: %s" % error, url=url)
        hints = {401: "the token was refused (strict mode needs a valid one)",
                 403: "forbidden: an Origin the server does not allow, its connection limit, or its license",
                 404: "no WebSocket endpoint here: are WEBSOCKETS_ENABLED and the path right?"}
        message = "the server refused the WebSocket upgrade with %d: %s" % (status, hints.get(status, "error"))
        cls: Optional[Type[APIError]] = {401: AuthenticationError, 403: ForbiddenError,
                                         429: RateLimitedError}.get(status)
        if cls is None:
            cls = ServerError if status >= 500 else BadRequestError
        return cls(message, status=status, method="GET", url=url)
    if isinstance(error, socket.timeout):
        return TimeoutError("timed out opening the WebSocket connection", url=url)
    return TransportError("cannot open the WebSocket connection: %s" % (error or type(error).__name__), url=url)


def _socket_route(client: Any) -> _Route:
    """Where the realtime sockets of ``client`` go, as its REST requests do:
    ``(host, port, proxy, proxy_headers, ssl_context)``. ``proxy`` is the ``(host, port)`` of the
    HTTP proxy to tunnel through with CONNECT (a WebSocket is tunnelled for ws:// too), or None;
    ``ssl_context`` is the client's for wss://, None for ws://."""
    from urllib.parse import urlsplit
    from .._core.http11 import proxies_from, resolve_route
    from .transport import make_ssl_context
    settings = client.connection_settings
    parts = urlsplit(client.url)
    host, port, proxy, proxy_headers = resolve_route(parts.scheme, parts.netloc, proxies_from(settings.proxies))
    context = None
    if parts.scheme == "https":
        context = settings.ssl_context or make_ssl_context()
    return host, port, proxy, proxy_headers, context


def _keep_alive(sock: socket.socket) -> None:
    """TCP keepalive on ``sock``: a fallback probe for servers whose heartbeat is off (the kernel
    notices a dead peer)."""
    import socket
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, name):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
            except OSError:
                pass


class _ConnectionBase:
    """What ``_SyncConnection`` and the async connection share: the URL, the WebSocket of each
    attempt, tokens, moving messages between the core and the WebSocket, and the bookkeeping of a
    connection's end. A subclass brings the I/O: ``guard`` (a context manager around every use of
    the core), ``_notify()`` (wake the waiters), ``wake()`` (wake the connection's own loop),
    ``_adopt(stream)`` and ``_discard(stream)``."""

    ws: ClientConnection  # of the connection installed last (None before the first): used only once one is

    if TYPE_CHECKING:  # what a subclass brings
        @property
        def guard(self) -> ContextManager[object]: ...
        def _notify(self) -> None: ...
        def wake(self) -> None: ...
        def _adopt(self, stream: Any) -> None: ...
        def _discard(self, stream: Any) -> None: ...

    def __init__(self, endpoint: _Endpoint, core: _Core) -> None:
        self.realtime = endpoint
        self.client = endpoint.client
        self.core = core
        self.path: Optional[str] = None  # the WebSocket path below the base URL, known once the settings are
        self.ws = None  # type: ignore[assignment]  # see above
        self._token_fetch: Optional[object] = None  # the token fetch running, if any
        self._attempt_token: Optional[str] = None  # the token of the last connection attempt

    # --- opening -------------------------------------------------------------------------------
    def _url_parts(self) -> Tuple[str, str, int, str, str]:
        from urllib.parse import urlsplit
        from .._core.http11 import host_header
        parts = urlsplit(self.client.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        port = parts.port or (443 if scheme == "wss" else 80)
        host = parts.hostname
        return scheme, host, port, host_header(parts.scheme, host, port), parts.path.rstrip("/") + (self.path or "")

    def where(self) -> str:
        scheme, _, _, host_header, path = self._url_parts()
        return "%s://%s%s" % (scheme, host_header, path)

    def _token_flow(self) -> Generator[Any, Any, Tuple[Optional[str], Optional[float]]]:
        """The flow fetching the token of the next attempt: another one when the last was refused."""
        core = self.core
        stale = self._attempt_token if (core._unauthorized or core._auth_failures) else None
        return access_token_flow(self.client._session, stale)

    def _websocket(self, token: Optional[str]) -> ClientConnection:
        """The sans-I/O WebSocket of an attempt with ``token`` (remembered: if the server refuses it,
        the next attempt asks for another). No ``Origin`` header: the server would check it."""
        from .._core.websocket import ClientConnection
        self._attempt_token = token
        host_header, path = self._url_parts()[3:]
        return ClientConnection(host_header, self.core.resource(path, token), subprotocols=self.core.subprotocols,
                                headers=[("User-Agent", self.realtime.user_agent)], max_size=self.realtime.max_size)

    @staticmethod
    def _handshake_step(ws: ClientConnection, data: bytes) -> Optional[List[_Event]]:
        """Feed handshake bytes: the events that came after ``Accepted`` once it came, else None."""
        from .._core.websocket import Accepted
        if not data:
            raise ConnectionError("the server closed the connection during the WebSocket handshake")
        events = ws.receive_data(data)
        if events and isinstance(events[0], Accepted):
            return events[1:]
        return None

    def _install(self, opened: _Opened) -> bool:
        """Hand a freshly opened connection to the core; False if the core was closed meanwhile."""
        stream, ws, token, expires_at, events = opened
        with self.guard:
            if self.core.state == "closed":
                self._discard(stream)
                return False
            self._adopt(stream)
            self.ws = ws
            self.core.connection_opened(self.realtime._clock(), token, expires_at)
            self._handle_events(events)
            self._notify()
            return True

    def _settled(self) -> Union[bool, _Wait]:
        """A poll: True once the first connection is ready or closed for good."""
        return True if self.core.state in ("ready", "closed") else _WAIT

    def _first_failure(self, timeout: float) -> Exception:
        return self.core.last_error or TimeoutError("the realtime connection was not ready within %s s" % timeout,
                                                    url=self.where())

    def _connect_failed(self, error: BaseException) -> DirectusError:
        """The first attempt failed: the core is closed for good; the DirectusError to raise."""
        failure = _translate_connect_error(error, self.where())
        with self.guard:
            self.core._fatal(failure)
            self._notify()
        return failure

    # --- running -------------------------------------------------------------------------------
    def _outgoing_bytes(self) -> bytes:
        """The bytes of what the core and the WebSocket have queued (under the guard)."""
        ws = self.ws
        for text in self.core.take_outgoing():
            try:
                ws.send_text(text)
            except Exception:  # closing: the rest is dropped, the connection is ending
                break
        return ws.data_to_send()

    def _handle_events(self, events: List[_Event]) -> Optional[Closed]:
        """Feed WebSocket events to the core; the Closed event, if any."""
        from .._core.websocket import Closed, TextMessage
        now = self.realtime._clock()
        for event in events:
            if isinstance(event, TextMessage):
                self.core.message_received(now, event.data)
            elif isinstance(event, Closed):
                return event
        return None

    def _token_fetched(self, token: Optional[str], expires_at: Optional[float], error: Optional[Exception]) -> None:
        """The end of a token fetch that ``core.token_wanted`` asked for."""
        with self.guard:
            self._token_fetch = None
            if error is not None:
                self.core.token_failed(self.realtime._clock(), error)
            else:
                self.core.token_ready(self.realtime._clock(), token, expires_at)
        self.wake()

    def _waits(self, poll: Callable[[], Union[_T, _Wait]],
               deadline: Optional[float]) -> Generator[Optional[float], None, Union[_T, _Wait]]:
        """A wait as a generator: yields the seconds to wait for a change (None: no limit) until
        ``poll()`` answers something other than _WAIT, and returns that (_WAIT: the deadline passed)."""
        clock = self.realtime._clock
        while True:
            result = poll()
            if result is not _WAIT:
                return result
            remaining = None if deadline is None else deadline - clock()
            if remaining is not None and remaining <= 0:
                return _WAIT
            yield remaining

    # --- ending --------------------------------------------------------------------------------
    def _start_closing(self) -> bool:
        """Queue our close frame (the core wants to close); whether to wait for the server's echo."""
        code, reason = self.core.close_wanted or (1000, "")
        try:
            self.ws.close(code, reason)
        except Exception:
            pass
        return self.core.state == "closed"

    def _lost(self, closed: Closed) -> None:
        """The socket is gone (``closed`` says how): tell the core, which reconnects unless closed."""
        with self.guard:
            if self.core.state != "closed":
                error = self._loss_error(closed)
                self.core.connection_lost(self.realtime._clock(), error, closed.code)
                self.realtime.logger.info("realtime connection to %s lost: %s", self.where(), error)
            self._notify()

    def _loss_error(self, closed: Closed) -> Exception:
        if self.core.last_error is not None and self.core.close_wanted is not None:
            return self.core.last_error
        if closed.error:
            return TransportError("WebSocket protocol error: %s" % closed.error, url=self.where())
        if closed.code == 1006:
            return TransportError("the connection ended without a close frame", url=self.where())
        return TransportError("the server closed the connection (%d%s)" % (
            closed.code, ", " + closed.reason if closed.reason else ""), url=self.where())

    def _reconnect_deadline(self) -> Optional[float]:
        """When to try again (the backoff), or None when the connection is closed for good."""
        with self.guard:
            if self.core.state == "closed":
                return None
            delay = self.core.reconnect_delay()
        self.realtime.logger.info("realtime: reconnecting to %s in %.2f s", self.where(), delay)
        return self.realtime._clock() + delay

    def _closed_for_good(self) -> Union[bool, _Wait]:
        """A poll: True once the core is closed (a reconnect wait ends early)."""
        return True if self.core.state == "closed" else _WAIT

    def _attempt_failed(self, error: BaseException) -> None:
        with self.guard:
            self.core.connect_failed(self.realtime._clock(), _translate_connect_error(error, self.where()))
            self._notify()


# --- sync I/O ------------------------------------------------------------------------------

def _open_socket(route: _Route, timeout: float) -> socket.socket:
    """A connected socket along ``route`` (see _socket_route): through the proxy's CONNECT tunnel
    when there is one, then TLS when there is a context; TCP keepalive on."""
    from .transport import open_socket
    host, port, proxy, proxy_headers, context = route
    sock = open_socket(host, port, timeout, proxy, proxy_headers, context)
    _keep_alive(sock)
    return sock


class _SyncConnection(_ConnectionBase):
    """Drives one core over a blocking socket, from a reader thread that owns the socket.

    Every call into the core happens under ``condition``; application threads only change the
    core and ``wake()`` the reader, which sends. Waiters on subscriptions and requests wait on
    ``condition`` too; the reader notifies it after each change. Tokens are fetched on a helper
    thread, so server pings are answered meanwhile.
    """

    _wake_read: Optional[socket.socket]
    _wake_write: Optional[socket.socket]
    if TYPE_CHECKING:
        _token_fetch: Optional[threading.Thread]

    def __init__(self, endpoint: _Endpoint, core: _Core) -> None:
        import threading
        super().__init__(endpoint, core)
        self.condition = threading.Condition(threading.RLock())
        self.sock: Optional[socket.socket] = None
        self._thread: Optional[threading.Thread] = None
        self._wake_read, self._wake_write = None, None

    @property
    def guard(self) -> threading.Condition:
        return self.condition

    def _notify(self) -> None:
        self.condition.notify_all()

    def _adopt(self, sock: socket.socket) -> None:
        self.sock = sock

    @staticmethod
    def _discard(sock: socket.socket) -> None:
        sock.close()

    def wait_for(self, poll: Callable[[], Union[_T, _Wait]], deadline: Optional[float] = None) -> Union[_T, _Wait]:
        """Wait (blocking) until ``poll()`` answers, under the condition; _WAIT when ``deadline`` passes."""
        with self.condition:
            waits = self._waits(poll, deadline)
            try:
                while True:
                    self.condition.wait(next(waits))
            except StopIteration as stop:
                result: Union[_T, _Wait] = stop.value
                return result

    # --- opening ---------------------------------------------------------------------------
    def _open(self) -> _Opened:
        """Fetch a token, connect and shake hands: (socket, ClientConnection, token, expiry, events)."""
        import socket
        token, expires_at = self.client._runner.run(self._token_flow())
        timeout = self.client.connection_settings.connect_timeout or 10.0  # None (no bound) opens within 10 s
        clock = self.realtime._clock
        deadline = clock() + timeout
        sock = _open_socket(_socket_route(self.client), timeout)
        try:
            ws = self._websocket(token)
            sock.sendall(ws.handshake_request())
            events: Optional[List[_Event]] = None
            while events is None:
                remaining = deadline - clock()
                if remaining <= 0:
                    raise socket.timeout("the WebSocket handshake took longer than %s s" % timeout)
                sock.settimeout(remaining)
                events = self._handshake_step(ws, sock.recv(65536))
            sock.settimeout(timeout)  # for sends; reads wait in select()
            return sock, ws, token, expires_at, events
        except BaseException:
            sock.close()
            raise

    def connect(self, timeout: float) -> None:
        """The first connection, in the caller's thread: raises when it cannot be made ready."""
        import socket
        import threading
        try:
            opened = self._open()
        except Exception as error:
            raise self._connect_failed(error) from None
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._install(opened)
        self._thread = threading.Thread(target=self._run, name="pydirectus-realtime", daemon=True)
        self._thread.start()
        self.wait_for(self._settled, self.realtime._clock() + timeout)
        with self.condition:
            if self.core.state == "ready":
                return
            failure = self._first_failure(timeout)
        self.close()
        raise failure

    # --- the reader thread ---------------------------------------------------------------------
    def wake(self) -> None:
        if self._wake_write is not None:
            try:
                self._wake_write.send(b"x")
            except OSError:  # full (the reader is awake anyway) or closed
                pass

    def _run(self) -> None:
        try:
            while True:
                sock = self.sock
                if sock is not None:
                    self._serve(sock)
                if not self._reconnect():
                    return
        except BaseException as error:  # a bug: never leave waiters hanging
            with self.condition:
                self.core._fatal(TransportError("the realtime reader stopped: %r" % (error,), url=self.where()))
                self.condition.notify_all()
            self.realtime.logger.exception("the realtime reader thread failed")
        finally:
            self._drop_socket()
            with self.condition:
                self.condition.notify_all()

    def _flush(self, sock: socket.socket) -> bool:
        """Send what the core and the WebSocket have queued (under the condition). False: lost."""
        data = self._outgoing_bytes()
        if data:
            try:
                sock.sendall(data)
            except OSError:
                return False
        return True

    def _serve(self, sock: socket.socket) -> None:
        """Run one open connection (on ``sock``) until it ends."""
        import select
        import socket
        from .._core.websocket import Closed
        ws, core, clock = self.ws, self.core, self.realtime._clock
        closed: Optional[Closed] = None
        while closed is None:
            with self.condition:
                core.tick(clock())
                if not self._flush(sock):
                    closed = Closed(1006, "", "the connection broke while sending")
                    break
                if core.close_wanted is not None:
                    break
                if core.token_wanted and self._token_fetch is None:
                    self._start_token_fetch(core.token)
                deadline = core.next_deadline()
                self.condition.notify_all()
            timeout = 5.0 if deadline is None else min(5.0, max(0.0, deadline - clock()))
            pending = getattr(sock, "pending", None)
            if pending and pending():
                readable = [sock]  # TLS has decrypted bytes buffered: select() would not see them
            else:
                try:
                    # the wake pair is made before the reader starts: _wake_read is a socket here
                    readable = select.select(  # type: ignore[type-var, assignment]
                        [sock, self._wake_read], [], [], timeout)[0]
                except (OSError, ValueError):
                    readable = [sock]
            if self._wake_read in readable:
                try:
                    while self._wake_read.recv(4096):
                        pass
                except OSError:
                    pass
            if sock not in readable:
                continue
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                data = b""
            with self.condition:
                closed = self._handle_events(ws.receive_data(data))
                if not self._flush(sock) and closed is None:
                    closed = Closed(1006, "", "the connection broke while sending")
                self.condition.notify_all()
        self._end_connection(sock, closed)

    def _end_connection(self, sock: socket.socket, closed: Optional[Closed]) -> None:
        """Close ``sock`` (with a close handshake when the core asked for one), tell the core."""
        import socket
        from .._core.websocket import Closed
        ws = self.ws
        if closed is None:  # the core wants to close: say so, and wait briefly for the echo
            with self.condition:
                graceful = self._start_closing()
                sent = self._flush(sock)
            if graceful and sent:
                deadline = self.realtime._clock() + CLOSE_TIMEOUT
                try:
                    while ws.state != "CLOSED":
                        remaining = deadline - self.realtime._clock()
                        if remaining <= 0:
                            break
                        sock.settimeout(remaining)
                        data = sock.recv(65536)
                        ws.receive_data(data)
                        if not data:
                            break
                except (OSError, socket.timeout):
                    pass
            closed = Closed(1000 if graceful else 1006, "", None)
        self._drop_socket()
        self._lost(closed)

    def _drop_socket(self) -> None:
        import socket
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _reconnect(self) -> bool:
        """Wait the backoff and connect again; False when the connection is closed for good."""
        while True:
            deadline = self._reconnect_deadline()
            if deadline is None or self.wait_for(self._closed_for_good, deadline) is True:
                return False
            try:
                opened = self._open()
            except Exception as error:
                self._attempt_failed(error)
                continue
            return self._install(opened)

    # --- tokens on a helper thread ---------------------------------------------------------------
    def _start_token_fetch(self, stale: Optional[str]) -> None:
        import threading
        self._token_fetch = threading.Thread(target=self._fetch_token, args=(stale,),
                                             name="pydirectus-realtime-token", daemon=True)
        self._token_fetch.start()

    def _fetch_token(self, stale: Optional[str]) -> None:
        try:
            token, expires_at = self.client._access_token(stale)
        except Exception as error:
            self._token_fetched(None, None, error)
        else:
            self._token_fetched(token, expires_at, None)

    # --- closing ---------------------------------------------------------------------------------
    def close(self) -> None:
        import threading
        with self.condition:
            self.core.close()
            self.condition.notify_all()
        self.wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(CLOSE_TIMEOUT + 3.0)
        if thread is None:
            self._drop_socket()
        for end in (self._wake_read, self._wake_write):
            if end is not None:
                end.close()
        self._wake_read = self._wake_write = None


# --- the public API, and what its sync and async forms share ------------------------------------

class _SubscriptionBase:
    """What Subscription and AsyncSubscription share: the state, and the poll their waits use."""

    def __init__(self, connection: _ConnectionBase, state: _SubscriptionState) -> None:
        self._connection = connection
        self._state = state
        self.uid: str = state.uid

    @property
    def collection(self) -> Optional[str]:
        """The collection subscribed to (None for a GraphQL subscription)."""
        collection: Optional[str] = self._state.message.get("collection")
        return collection

    def __repr__(self) -> str:
        return "<%s %s %s %s>" % (type(self).__name__, self.uid, self._state.label, self._state.status)

    @property
    def pending_events(self) -> int:
        """How many events are queued and not read yet."""
        return len(self._state.queue)

    def _poll(self) -> Union[RealtimeEvent, None, _Wait]:
        """The next event, None once the subscription ended, _WAIT for nothing yet; raises the
        server's refusal once."""
        state = self._state
        if state.queue:
            return state.take()
        if state.status == "failed" and state.error is not None:
            error, state.error = state.error, None
            raise error
        if state.finished:
            return None
        return _WAIT

    def _deadline(self, timeout: Optional[float]) -> Optional[float]:
        return None if timeout is None else self._connection.realtime._clock() + timeout

    def unsubscribe(self) -> None:
        """Stop the subscription; iteration ends once the events already queued are read."""
        connection = self._connection
        with connection.guard:
            connection.core.unsubscribe(self.uid)
            connection._notify()
        connection.wake()

    close = unsubscribe


class Subscription(_SubscriptionBase):
    """The events of one subscription: iterate over it, or ``get(timeout)``.

    Iteration blocks until the next event and ends after ``unsubscribe()`` or when the realtime
    connection is closed. If the server refuses the subscription (a missing collection, no
    permission), iterating raises that DirectusError; other subscriptions are not affected.
    """

    if TYPE_CHECKING:
        _connection: _SyncConnection

    def __iter__(self) -> Iterator[RealtimeEvent]:
        return self

    def __next__(self) -> RealtimeEvent:
        event = self.get()
        if event is None:
            raise StopIteration
        return event

    def get(self, timeout: Optional[float] = None) -> Optional[RealtimeEvent]:
        """The next event; None when ``timeout`` seconds pass first or the subscription ended.

        Raises the server's DirectusError once if it refused the subscription.
        """
        event = self._connection.wait_for(self._poll, self._deadline(timeout))
        return None if event is _WAIT else event

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.unsubscribe()


class _ItemsBase:
    """What RealtimeItems and AsyncRealtimeItems share: the messages and the decoding of replies."""

    def __init__(self, realtime: _DirectusEndpoint) -> None:
        self._realtime = realtime

    @staticmethod
    def _message(action: str, collection: str, fields: Dict[str, Any]) -> Dict[str, Any]:
        if not isinstance(collection, str) or not collection:
            raise ValueError("collection must be a non-empty string, got %r" % (collection,))
        if action in ("update", "delete") and all(fields.get(name) is None for name in ("id", "ids", "query")):
            raise ValueError("%s needs id, ids or query" % action)
        message: Dict[str, Any] = {"type": "items", "action": action, "collection": collection}
        for name, value in fields.items():
            if value is not None:
                message[name] = value
        return message

    @staticmethod
    def _result(reply: Dict[str, Any], model: Optional[Type[Item]]) -> Any:
        return _as_items(reply.get("data"), reply.get("meta"), model)


class RealtimeItems(_ItemsBase):
    """Items over the socket: ``create``, ``read``, ``update``, ``delete`` (user collections only).

    Each returns the reply's ``data``: Items for records, the keys as sent for a delete. REST stays
    the better way to write: a request whose connection breaks is not sent again (the socket has
    no idempotency), it raises a TransportError with ``may_have_been_processed``.
    """

    if TYPE_CHECKING:
        _realtime: Realtime

    def _call(self, action: str, collection: str, timeout: Optional[float], model: Optional[Type[Item]] = None,
              **fields: Any) -> Any:
        return self._result(self._realtime._request(self._message(action, collection, fields), "items", timeout),
                            model)

    def create(self, collection: str, data: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]], *,
               query: Optional[Mapping[str, Any]] = None, timeout: Optional[float] = None,
               model: Optional[Type[Item]] = None) -> Any:
        """Create one item (``data`` a dict: returns an Item) or several (a list: an ItemList)."""
        return self._call("create", collection, timeout, model, data=data, query=query)

    def read(self, collection: str, id: Union[str, int, None] = None, *,  # noqa: A002
             ids: Optional[Sequence[Union[str, int]]] = None, query: Optional[Mapping[str, Any]] = None,
             timeout: Optional[float] = None, model: Optional[Type[Item]] = None) -> Any:
        """One item by ``id`` (an Item), or an ItemList by ``ids`` or ``query``."""
        return self._call("read", collection, timeout, model, id=id, ids=ids, query=query)

    def update(self, collection: str, data: Mapping[str, Any], id: Union[str, int, None] = None, *,  # noqa: A002
               ids: Optional[Sequence[Union[str, int]]] = None, query: Optional[Mapping[str, Any]] = None,
               timeout: Optional[float] = None, model: Optional[Type[Item]] = None) -> Any:
        """Update by ``id`` (returns an Item), ``ids`` or ``query`` (an ItemList)."""
        return self._call("update", collection, timeout, model, data=data, id=id, ids=ids, query=query)

    def delete(self, collection: str, id: Union[str, int, None] = None, *,  # noqa: A002
               ids: Optional[Sequence[Union[str, int]]] = None, query: Optional[Mapping[str, Any]] = None,
               timeout: Optional[float] = None) -> Any:
        """Delete by ``id``, ``ids`` or ``query``; returns the keys as sent."""
        return self._call("delete", collection, timeout, id=id, ids=ids, query=query)


class _Exchange:
    """One request and its reply over the socket, as polls for a connection's ``wait_for``."""

    def __init__(self, core: _Core, clock: _Clock, message: Mapping[str, Any], kind: str, timeout: float) -> None:
        self.core = core
        self.clock = clock
        self.message = message
        self.kind = kind
        self.timeout = timeout
        self.deadline = clock() + timeout
        self.request: Optional[_Pending] = None

    def send(self) -> Union[_Pending, _Wait]:
        """A poll: sends the request once the connection is ready (it may be reconnecting)."""
        core = self.core
        if core.state == "ready":
            clock = self.clock
            self.request = core.request(clock(), self.message, self.kind, max(0.0, self.deadline - clock()))
            return self.request
        if core.state == "closed":
            raise core.fatal or TransportError("the realtime connection is closed", url=core.where)
        return _WAIT

    # reply_deadline() and reply() come once send() made the request, which has a deadline
    def reply_deadline(self) -> float:
        return self.request.deadline + 0.05  # type: ignore[union-attr, operator]  # see above

    def reply(self) -> Union[_Pending, _Wait]:
        """A poll: the request once answered. The connection fails it at its deadline; past that,
        this does, in case the connection is busy elsewhere."""
        request: _Pending = self.request  # type: ignore[assignment]  # see above
        if not request.done and self.clock() >= request.deadline:  # type: ignore[operator]
            self.core.tick(self.clock())
        return request if request.done else _WAIT

    def result(self) -> Dict[str, Any]:
        """The reply, or the request's error raised."""
        request = self.request
        if request is None:
            raise TimeoutError("the realtime connection was not back within %s s" % self.timeout,
                               url=self.core.where)
        if not request.done:
            raise TimeoutError("no reply to %s request within %s s" % (self.kind, self.timeout), url=self.core.where,
                               may_have_been_processed=True)
        if request.error is not None:
            raise request.error
        return request.result  # type: ignore[return-value]  # done without an error: resolved with the reply


def _message_to_send(message: Mapping[str, Any]) -> Tuple[Dict[str, Any], str]:
    """``Realtime.send``'s message, checked, without a uid of its own: (message, kind)."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ValueError("message must be a dict with a 'type', got %r" % (message,))
    return {key: value for key, value in message.items() if key != "uid"}, message["type"]


class _Endpoint:
    """What every realtime socket object shares, sync or async: its settings, one connection to
    one core (made on first use), the counters. Subclasses give ``_new_core()``,
    ``_discovery_flow()`` (a flow: the settings, from /server/info when some were not given) and
    ``_configure(core, settings)`` (applies them, returns the WebSocket path)."""

    _connection: Optional[_ConnectionBase] = None
    _connection_class = None  # type: Any

    if TYPE_CHECKING:  # what each protocol's endpoint gives
        def _new_core(self) -> _Core: ...
        def _discovery_flow(self) -> Generator[Any, Any, _Settings]: ...
        @staticmethod
        def _configure(core: _Core, settings: _Settings) -> str: ...

    def __init__(self, client: Any, clock: _Clock, random: _Clock, timeout: float, queue_size: int,
                 max_size: int) -> None:
        self.client = client  # a DirectusClient or an AsyncDirectusClient
        self.logger: Logger = client.logger
        self._clock = clock
        self._random = random
        self.timeout = timeout
        self.queue_size = queue_size
        self.max_size = max_size
        from .._core.client import USER_AGENT  # at run time: the clients import this module
        self.user_agent = USER_AGENT

    def _new_connection(self) -> _ConnectionBase:
        connection: _ConnectionBase = self._connection_class(self, self._new_core())
        self._connection = connection
        return connection

    def _configure_connection(self, connection: _ConnectionBase, settings: _Settings) -> None:
        connection.path = self._configure(connection.core, settings)
        connection.core.where = connection.where()

    def _subscribed(self, connection: _ConnectionBase,
                    subscribe: Callable[[Any], _SubscriptionState]) -> _SubscriptionState:
        """The state ``subscribe(core)`` adds to the connection's core (sent once it is ready)."""
        with connection.guard:
            core = connection.core
            if core.state == "closed":
                raise core.fatal or TransportError("the realtime connection is closed", url=core.where)
            state = subscribe(core)
        connection.wake()
        return state

    @property
    def connected(self) -> bool:
        """Whether the connection is open and authenticated right now."""
        return self._connection is not None and self._connection.core.state == "ready"

    @property
    def stats(self) -> Dict[str, int]:
        """Counters (0 when absent): connections_opened, disconnects, pings, reauths, token_expired, ..."""
        connection = self._connection
        if connection is None:
            return collections.Counter()
        with connection.guard:  # a reader thread counts under it
            return collections.Counter(connection.core.stats)

    @property
    def errors(self) -> List[DirectusError]:
        """The latest errors the server sent that belong to no request or subscription."""
        connection = self._connection
        if connection is None:
            return []
        with connection.guard:
            return list(connection.core.errors)


class _GraphQLEndpoint(_Endpoint):
    """GraphQL subscriptions (graphql-transport-ws) on the server's ``/graphql`` socket, sync or async."""

    def __init__(self, realtime: _DirectusEndpoint) -> None:
        super().__init__(realtime.client, realtime._clock, realtime._random, realtime.timeout,
                         realtime.queue_size, realtime.max_size)
        self._realtime = realtime

    def _new_core(self) -> _GraphQLCore:
        return _GraphQLCore(self._clock, self._random, queue_size=self.queue_size, request_timeout=self.timeout,
                            auth_timeout=self.timeout)

    def _discovery_flow(self) -> Generator[Any, Any, _Settings]:
        return self._realtime._discovery_flow(graphql=True)

    @staticmethod
    def _configure(core: _Core, settings: _Settings) -> str:
        core.auth_mode = settings["graphql_auth"]
        path: str = settings["graphql_path"]
        return path

    @staticmethod
    def _subscriber(query: str, variables: Optional[Mapping[str, Any]], operation_name: Optional[str],
                    queue_size: Optional[int]) -> Callable[[_GraphQLCore], _SubscriptionState]:
        return lambda core: core.subscribe(query, variables, operation_name, queue_size)


class _DirectusEndpoint(_Endpoint):
    """Directus's own protocol on ``/websocket``, sync or async: settings, discovery, the core."""

    _graphql_class = None  # type: Any
    _items_class = None  # type: Any

    def __init__(self, client: Any, *, path: Optional[str] = None, auth: Optional[str] = None,
                 heartbeat: Union[float, bool, None] = None, graphql_path: Optional[str] = None, timeout: float = 30.0,
                 queue_size: int = DEFAULT_QUEUE_SIZE, max_size: int = DEFAULT_MAX_SIZE, clock: Optional[_Clock] = None,
                 random: Optional[_Clock] = None) -> None:
        if clock is None:
            import time
            clock = time.monotonic
        if random is None:
            import random as random_module
            random = random_module.random
        if auth not in (None, "handshake", "strict", "public"):
            raise ValueError("auth must be 'handshake', 'strict' or 'public', got %r" % (auth,))
        super().__init__(client, clock, random, timeout, queue_size, max_size)
        self._settings: _Settings = {"path": path, "auth": auth, "heartbeat": heartbeat, "graphql_path": graphql_path}
        self._info: Optional[Dict[str, Any]] = None
        self._graphql: Optional[_GraphQLEndpoint] = None
        self.items = self._items_class(self)

    def __repr__(self) -> str:
        state = self._connection.core.state if self._connection else "not connected"
        return "<%s %s %s>" % (type(self).__name__, self.client.url, state)

    def _server_info_flow(self) -> Generator[Any, Any, Dict[str, Any]]:
        """A flow: the ``websocket`` block of /server/info (only authenticated users see it), once; {} without."""
        if self._info is None:
            info: Dict[str, Any] = {}
            client = self.client
            if client._credentials.kind != "none":
                request = client._raw_request("GET", "/server/info", None, None, None, None, True)
                try:
                    answer = decode_raw((yield from client._session.request_flow(request)))
                except APIError as error:
                    self.logger.debug("realtime: /server/info unavailable (%s), using defaults", error)
                    answer = None
                if isinstance(answer, dict) and answer.get("websocket") is False:
                    raise DirectusError("WebSockets are disabled on %s (WEBSOCKETS_ENABLED=false)" % client.url)
                if isinstance(answer, dict) and isinstance(answer.get("websocket"), dict):
                    info = answer["websocket"]
            self._info = info
        return self._info

    def _discovery_flow(self, graphql: bool = False) -> Generator[Any, Any, _Settings]:
        """A flow: the settings given, the missing ones from /server/info, else Directus's defaults."""
        settings = dict(self._settings)
        keys = ("graphql_path",) if graphql else ("path", "auth", "heartbeat")
        info = (yield from self._server_info_flow()) if any(settings[key] is None for key in keys) else {}
        rest = info.get("rest")
        if not isinstance(rest, dict):
            rest = {}
        graphql_info = info.get("graphql")
        if not isinstance(graphql_info, dict):
            graphql_info = {}
        if settings["path"] is None:
            settings["path"] = rest.get("path") or "/websocket"
        if settings["auth"] is None:
            settings["auth"] = rest.get("authentication") or "handshake"
        if settings["heartbeat"] is None:
            beat = info.get("heartbeat", DEFAULT_HEARTBEAT)
            settings["heartbeat"] = False if beat is False else float(beat)
        if settings["graphql_path"] is None:
            settings["graphql_path"] = graphql_info.get("path") or "/graphql"
        settings["graphql_auth"] = graphql_info.get("authentication") or settings["auth"]
        return settings

    def _new_core(self) -> _DirectusCore:
        return _DirectusCore(self._clock, self._random, request_timeout=self.timeout, queue_size=self.queue_size,
                             auth_timeout=self.timeout)

    @staticmethod
    def _configure(core: _Core, settings: _Settings) -> str:
        core.auth_mode = settings["auth"]
        core.heartbeat = settings["heartbeat"] or None
        path: str = settings["path"]
        return path

    @staticmethod
    def _subscriber(collection: str, query: Optional[Mapping[str, Any]], event: Optional[str],
                    item: Union[str, int, None], model: Optional[Type[Item]],
                    queue_size: Optional[int]) -> Callable[[_DirectusCore], _SubscriptionState]:
        return lambda core: core.subscribe(collection, query, event, item, model, queue_size)

    def _graphql_endpoint(self) -> _GraphQLEndpoint:
        if self._graphql is None:
            self._graphql = self._graphql_class(self)
        return self._graphql

    def _exchange(self, connection: _ConnectionBase, message: Mapping[str, Any], kind: str,
                  timeout: Optional[float]) -> _Exchange:
        return _Exchange(connection.core, self._clock, message, kind, self.timeout if timeout is None else timeout)


class _SyncEndpoint(_Endpoint):
    """The blocking side of Realtime and GraphQLRealtime: one _SyncConnection, opened on first use."""

    _connection_class = _SyncConnection
    if TYPE_CHECKING:
        _connection: Optional[_SyncConnection]
        def _new_connection(self) -> _SyncConnection: ...

    def connect(self: _S) -> _S:
        """Open the connection now (it opens by itself on first use). Raises if it cannot."""
        connection = self._connection
        if connection is not None:
            if connection.core.state == "closed" and connection.core.fatal is not None:
                raise connection.core.fatal
            return self
        settings = self.client._runner.run(self._discovery_flow())
        connection = self._new_connection()
        self._configure_connection(connection, settings)
        connection.connect(self.timeout)
        return self

    def _connected(self) -> _SyncConnection:
        if self._connection is None:
            self.connect()
        return self._connection  # type: ignore[return-value]  # connect() made it, or raised

    def close(self) -> None:
        """Close the connection; subscriptions end, waiting requests raise."""
        if self._connection is not None:
            self._connection.close()

    def __enter__(self: _S) -> _S:
        return self.connect()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class GraphQLRealtime(_GraphQLEndpoint, _SyncEndpoint):
    """GraphQL subscriptions on the server's ``/graphql`` socket (graphql-transport-ws).

    ``rt.graphql.subscribe("subscription { articles_mutated(event: create) { key event data { id } } }")``
    yields ``next`` events whose ``data`` is the result's ``data``. Directus reads the ``event:``
    filter only as a literal in the document, not from a variable.
    """

    def subscribe(self, query: str, variables: Optional[Mapping[str, Any]] = None, *,
                  operation_name: Optional[str] = None, queue_size: Optional[int] = None) -> Subscription:
        """Start a GraphQL subscription; iterate over the returned Subscription."""
        connection = self._connected()
        return Subscription(connection, self._subscribed(connection, self._subscriber(query, variables,
                                                                                      operation_name, queue_size)))


class Realtime(_DirectusEndpoint, _SyncEndpoint):
    """A realtime connection to Directus (what ``client.realtime()`` returns).

    ``subscribe()`` gives a Subscription to iterate over; ``items`` reads and writes over the
    socket; ``graphql`` opens the GraphQL subscription socket on first use. The connection
    authenticates with the client's credentials (a static token, or the password session's
    access tokens, changed on the socket before they expire), answers the server's pings, and
    reconnects by itself with backoff, sending each subscription again once.
    """

    _graphql_class = GraphQLRealtime
    _items_class = RealtimeItems
    if TYPE_CHECKING:
        items: RealtimeItems
        _graphql: Optional[GraphQLRealtime]
        def _graphql_endpoint(self) -> GraphQLRealtime: ...

    @property
    def graphql(self) -> GraphQLRealtime:
        """GraphQL subscriptions, on their own socket (opened on the first subscribe)."""
        return self._graphql_endpoint()

    def subscribe(self, collection: str, *, query: Optional[Mapping[str, Any]] = None,
                  event: Optional[str] = None, item: Union[str, int, None] = None,
                  model: Optional[Type[Item]] = None, queue_size: Optional[int] = None) -> Subscription:
        """Subscribe to ``collection``'s changes; iterate over the returned Subscription.

        ``query`` is the Directus query object (``{"fields": [...], "filter": {...}}``) the events'
        records are read with; ``event`` keeps only ``"create"``, ``"update"`` or ``"delete"``;
        ``item`` watches one item. The first event is ``init`` (with the current records when
        ``event`` is not given). Deletes are never filtered by the server, and an item updated
        out of the filter sends nothing. ``queue_size`` bounds the events kept unread (then a
        ``gap`` event says how many were dropped).
        """
        connection = self._connected()
        return Subscription(connection, self._subscribed(connection, self._subscriber(collection, query, event, item,
                                                                                      model, queue_size)))

    def _request(self, message: Mapping[str, Any], kind: str, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Send ``message`` with a uid and wait for its reply (waiting for the connection first)."""
        connection = self._connected()
        exchange = self._exchange(connection, message, kind, timeout)
        if connection.wait_for(exchange.send, exchange.deadline) is not _WAIT:
            connection.wake()
            connection.wait_for(exchange.reply, exchange.reply_deadline())
        return exchange.result()

    def send(self, message: Mapping[str, Any], timeout: Optional[float] = None) -> Dict[str, Any]:
        """Send any message (a dict with ``type``) with a fresh uid; the reply with that uid.

        For what the helpers do not cover. The server ignores unknown types: such a request
        raises TimeoutError after ``timeout`` seconds.
        """
        checked, kind = _message_to_send(message)
        return self._request(checked, kind, timeout)

    def ping(self, timeout: Optional[float] = None) -> float:
        """Round trip of a ``{"type":"ping"}`` in seconds (only servers with the heartbeat on answer)."""
        started = self._clock()
        self._request({"type": "ping"}, "ping", timeout)
        return self._clock() - started

    def close(self) -> None:
        if self._graphql is not None:
            self._graphql.close()
        super().close()

    def __enter__(self) -> Realtime:
        return self.connect()


class RealtimeMixin:
    """Gives DirectusClient its ``realtime()`` method."""

    def realtime(self, *, path: Optional[str] = None, auth: Optional[str] = None,
                 heartbeat: Union[float, bool, None] = None, graphql_path: Optional[str] = None,
                 timeout: float = 30.0, queue_size: int = DEFAULT_QUEUE_SIZE, max_size: int = DEFAULT_MAX_SIZE,
                 clock: Optional[Callable[[], float]] = None,
                 random: Optional[Callable[[], float]] = None) -> Realtime:
        """A realtime (WebSocket) connection to this server; use it as a context manager.

            with client.realtime() as rt:
                for event in rt.subscribe("articles", query={"fields": ["id", "title"]}):
                    ...

        ``path``, ``auth`` (``"handshake"``, ``"strict"`` or ``"public"``) and ``heartbeat`` (the
        server's ping period in seconds, False when it is off) are read from ``/server/info``
        when not given. ``timeout`` bounds connecting and each request; ``queue_size`` the events
        each subscription keeps unread; ``max_size`` a message in bytes. ``clock`` (monotonic
        seconds) and ``random`` (floats in [0, 1), for the reconnect backoff) are for tests.
        """
        return Realtime(self, path=path, auth=auth, heartbeat=heartbeat, graphql_path=graphql_path,
                        timeout=timeout, queue_size=queue_size, max_size=max_size, clock=clock, random=random)
