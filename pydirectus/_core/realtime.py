"""Directus realtime, the part that decides: the protocol cores (``DirectusCore`` on ``/websocket``,
``GraphQLCore`` on ``/graphql``), and what the sync and the async room share (``ConnectionBase``,
the endpoints, subscriptions, requests on the socket). Nothing here touches a socket, a thread, a
clock or an event loop: the rooms (``_sync/realtime.py``, ``_async/realtime.py``) bring those, and
make their ``Realtime`` of the ``RealtimePlan`` that ``RealtimeFlows.realtime()`` returns.
"""

from __future__ import annotations

import collections
import json

from ..errors import (APIError, AuthenticationError, BadRequestError, DirectusError, ForbiddenError,
                      RateLimitedError, ServerError, TimeoutError, TransportError, class_for_code, error_code,
                      is_whole)
from .auth import access_token_flow
from .helpers import helper
from .records import decode_raw, models

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - for type checkers only: typing stays out of import time
    import enum
    from collections import Counter, deque
    from logging import Logger
    from typing import (Any, Callable, ContextManager, Dict, Final, Generator, List, Mapping, Optional, Sequence,
                        Tuple, Type, TypeVar, Union)

    from ..models import Item
    from .auth import Credentials
    from .client import ConnectionSettings
    from .effects import Flow
    from .policy import RequestPolicy
    from .records import Request
    from .websocket import ClientConnection, Closed, Event

    Clock = Callable[[], float]
    # a freshly opened connection: (stream, WebSocket, token, its expiry, the events after the handshake)
    Opened = Tuple[Any, ClientConnection, Optional[str], Optional[float], List[Event]]
    Settings = Dict[str, Any]
    TokenFlow = Callable[[Optional[str]], Flow[Tuple[Optional[str], Optional[float]]]]
    _T = TypeVar("_T")

__all__ = ["RealtimeFlows", "RealtimePlan", "RealtimeOptions", "RealtimeEvent", "SubscriptionState", "PendingRequest",
           "ProtocolCore", "DirectusCore", "GraphQLCore", "WAIT", "translate_connect_error", "jwt_lifetime",
           "ConnectionBase", "SubscriptionBase", "ItemsBase", "SocketExchange", "message_to_send", "Endpoint",
           "GraphQLEndpoint", "DirectusEndpoint", "CLOSE_TIMEOUT", "DEFAULT_QUEUE_SIZE", "DEFAULT_MAX_SIZE"]

# Directus facts this relies on (measured against 12.4.0): the server never answers RFC 6455 pings,
# it pings with {"type":"ping"} and closes a client silent for one period; a token expiring on the
# socket drops the events of the gap, so the socket re-authenticates before expiry with a token
# from the client's own token manager (never spending the REST session's single-use refresh token
# on the socket); errors without a uid belong to the connection; a subscribe error carries its uid;
# a server restart loses the events of the outage, hence the "reconnected" marker.
DEFAULT_QUEUE_SIZE = 1000
DEFAULT_HEARTBEAT = 30.0     # Directus's WEBSOCKETS_HEARTBEAT_PERIOD default
GRAPHQL_KEEPALIVE = 15.0     # graphql-ws has no server heartbeat: we ping this often when idle
# On /websocket the client pings too after this long without a message either way: the server's own
# ping every 30 s races a proxy's read timeout of 30 s (nginx's proxy_read_timeout is often set so),
# and the pong it answers keeps the proxy's upstream side busy. Below every common proxy timeout.
DIRECTUS_KEEPALIVE = 20.0
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
    cls: Type[APIError] = _SOCKET_CODES.get(code) or class_for_code(code) or BadRequestError
    if isinstance(code, str) and code.startswith("INTERNAL"):
        cls = ServerError
    errors = [{"message": text, "extensions": {"code": code}}]
    return cls(text, status=_STATUS_OF_CLASS.get(cls, 400), code=code, errors=errors,
               method="WS " + str(message.get("type")), url=where)


def _graphql_error(errors: List[Any], where: str) -> APIError:
    """The DirectusError of a GraphQL ``errors`` list."""
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    code = error_code(errors)
    cls: Type[APIError] = class_for_code(code) or BadRequestError
    return cls(str(first.get("message") or code or "GraphQL error"), status=_STATUS_OF_CLASS.get(cls, 400),
               code=code, errors=[e for e in errors if isinstance(e, dict)], method="WS graphql", url=where)


def jwt_lifetime(token: Optional[str]) -> Optional[float]:
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


class SubscriptionState:
    """A subscription as the core keeps it: the message that (re)creates it and a bounded queue.

    ``status``: ``pending`` (sent, no answer yet), ``active``, ``failed`` (``error`` says why) or
    ``ended``. The queue holds ``maxsize`` events plus at most one ``gap`` marker: a reader that
    cannot keep up loses events, never the connection (the reader thread must keep answering
    pings).
    """

    __slots__ = ("uid", "message", "queue", "maxsize", "status", "error", "model", "sent", "label", "gaps",
                 "answer_by")

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
        self.answer_by: Optional[float] = None  # when a first subscribe unanswered by then fails (DirectusCore)

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


class PendingRequest:
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

class ProtocolCore:
    """What both realtime protocols share, without I/O.

    States: ``idle`` (never connected), ``authenticating`` (socket open, credentials sent),
    ``ready``, ``waiting`` (lost: waiting to reconnect), ``closed`` (for good: ``fatal`` says why
    when it was not the application's ``close()``).

    The room's connection calls ``connection_opened``, ``message_received``, ``connection_lost``,
    ``connect_failed``, ``token_ready``/``token_failed`` and ``tick`` (with the time), then sends
    ``take_outgoing()``, fetches a token when ``token_wanted``, closes the socket when
    ``close_wanted``, and wakes up again by ``next_deadline()``. Test hooks: ``answer_pings``,
    ``proactive_reauth``, ``reactive_reauth``.
    """

    subprotocols: Tuple[str, ...] = ()
    fatal_closes: Dict[int, str] = {}
    auth_mode: str  # each protocol's: handshake, strict or public
    # seconds without a message either way after which a ready connection pings (None: never)
    keepalive: Optional[float] = None

    # set when a connection opens (None before the first), read only while authenticating or ready
    last_received: float
    auth_deadline: float

    if TYPE_CHECKING:  # what each protocol gives
        def message_received(self, now: float, text: str) -> None: ...
        def unsubscribe(self, uid: str) -> None: ...

    def __init__(self, clock: Clock, random: Clock, where: str = "", heartbeat: Optional[float] = None,
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
        self.subscriptions: Dict[str, SubscriptionState] = {}  # by uid, in the order they were made
        self.pending: Dict[str, PendingRequest] = {}  # by uid
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
        self.last_sent: Optional[float] = None

    @property
    def token_refused(self) -> bool:
        """Whether the server refused a token (on the upgrade or in the auth message) since the
        last connection became ready: the next attempt asks for another."""
        return bool(self._unauthorized or self._auth_failures)

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
        self.last_sent = self.clock()
        self._outgoing.append(json.dumps(message, separators=(",", ":")))

    def _ping_due(self) -> Optional[float]:
        """When a ready connection pings, idle since its last message either way (None: never; also
        without the server's heartbeat, which answers the pings)."""
        if self.keepalive is None or not self.heartbeat or self.state != "ready" or self.close_wanted is not None:
            return None
        return max(self.last_received, self.last_sent or 0) + self.keepalive

    def take_outgoing(self) -> List[str]:
        """The text messages to send now, in order."""
        outgoing, self._outgoing = self._outgoing, []
        return outgoing

    def _fail_pending(self, error: Exception) -> None:
        pending, self.pending = self.pending, {}
        for request in pending.values():
            request.fail(error)

    def fail(self, error: Exception) -> None:
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
        """The WebSocket handshake succeeded; ``token`` (or None) authenticates the policy."""
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

    def _send_subscribe(self, subscription: SubscriptionState) -> None:
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
            self.fail(TransportError("the server closed the connection with %d (%s)"
                                       % (code, self.fatal_closes[code]), url=self.where))
            return
        if self.connections == 0:  # the first connection never got ready: fail fast, do not loop
            self.fail(self.last_error)
            return
        if self._auth_failures >= 2:
            self.fail(self.last_error)
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
                self.fail(error)
        elif isinstance(error, ForbiddenError):
            self._forbidden += 1
            if self._forbidden >= _MAX_FORBIDDEN_UPGRADES:
                self.fail(error)
        elif isinstance(error, APIError) and not isinstance(error, (ServerError, RateLimitedError)):
            self.fail(error)

    def reconnect_delay(self) -> float:
        """Seconds to wait before the next attempt: full jitter, 0-1 s first, then up to 0.5 s * 2**n."""
        cap = 1.0 if self.failures == 0 else min(30.0, 0.5 * 2 ** self.failures)
        delay = self.random() * cap
        self.reconnect_delays.append(delay)
        return delay

    def close(self) -> None:
        """The application closes: end everything, ask the connection for a close handshake."""
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
        """Act on what is due at ``now``: liveness, authentication and request deadlines, re-auth,
        the keepalive ping."""
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
        if self.state == "ready":
            for subscription in list(self.subscriptions.values()):
                if subscription.answer_by is not None and now >= subscription.answer_by:
                    subscription.answer_by = None
                    if subscription.status == "pending":
                        self.subscriptions.pop(subscription.uid, None)
                        subscription.fail(TimeoutError(
                            "the server did not answer the subscription to %r within %.0f s (Directus 10 and 11 "
                            "never answer an admin's subscription to a collection that does not exist, nor say "
                            "which subscription an error was for)" % (subscription.label, self.request_timeout),
                            url=self.where))
        ping_at = self._ping_due()
        if ping_at is not None and now >= ping_at:
            self.stats["keepalive_pings"] += 1
            self._send({"type": "ping"})

    def next_deadline(self) -> Optional[float]:
        """When ``tick`` next has something to do (None: nothing is scheduled)."""
        times = [request.deadline for request in self.pending.values() if request.deadline is not None]
        if self.state == "ready":
            times += [subscription.answer_by for subscription in self.subscriptions.values()
                      if subscription.answer_by is not None]
        if self.state in ("authenticating", "ready"):
            limit = self.silence_limit()
            if limit is not None:
                times.append(self.last_received + limit)
            if self.state == "authenticating":
                times.append(self.auth_deadline)
            elif self.reauth_at is not None:
                times.append(self.reauth_at)
        ping_at = self._ping_due()
        if ping_at is not None:
            times.append(ping_at)
        return min(times) if times else None

    # --- tokens --------------------------------------------------------------------------
    def _schedule_reauth(self, now: float) -> None:
        expires_at = self.token_expires_at
        if expires_at is None or not self.proactive_reauth:
            self.reauth_at = None
            return
        lifetime = jwt_lifetime(self.token) or max(0.0, expires_at - now)
        margin = min(max(1.0, 0.1 * lifetime), 60.0)
        self.reauth_at = max(now + MIN_REAUTH_INTERVAL, expires_at - JWT_SECOND_SLACK - margin)

    def token_ready(self, now: float, token: Optional[str], expires_at: Optional[float]) -> None:
        """The token the connection fetched because ``token_wanted`` was set."""
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
    def send_request(self, now: float, message: Mapping[str, Any], kind: str, timeout: Optional[float] = None) -> PendingRequest:
        """Send ``message`` with a fresh uid; the PendingRequest its reply resolves."""
        if self.state != "ready":
            raise TransportError("the realtime connection is not ready (%s)" % self.state, url=self.where)
        uid = self._next_uid("r")
        timeout = self.request_timeout if timeout is None else timeout
        request = self.pending[uid] = PendingRequest(kind, now + timeout)
        self._send(dict(message, uid=uid))
        return request

    def _add_subscription(self, subscription: SubscriptionState) -> SubscriptionState:
        self.subscriptions[subscription.uid] = subscription
        if self.state == "ready":
            self._send_subscribe(subscription)
        return subscription


class DirectusCore(ProtocolCore):
    """Directus's JSON protocol on ``/websocket`` (``auth_mode``: handshake, strict or public).
    A connection idle for DIRECTUS_KEEPALIVE pings (``{"type": "ping"}``, answered with a pong
    while the server's heartbeat is on), so that a proxy between never times it out."""

    keepalive: Optional[float] = DIRECTUS_KEEPALIVE

    def __init__(self, clock: Clock, random: Clock, auth_mode: str = "handshake", **settings: Any) -> None:
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
        self.pending[uid] = PendingRequest("auth", None)
        self._send({"type": "auth", "access_token": self.token, "uid": uid})

    def _send_subscribe(self, subscription: SubscriptionState) -> None:
        super()._send_subscribe(subscription)
        # Directus acknowledges each subscribe (init, or an error with its uid) at once. 10 and 11
        # sometimes never do: a first subscribe left unanswered fails after request_timeout.
        subscription.answer_by = self.clock() + self.request_timeout if subscription.sent == 1 else None

    def _reauthenticate(self, now: float) -> None:
        uid = self._next_uid("auth")
        self.pending[uid] = PendingRequest("auth", now + self.request_timeout)
        self.stats["reauths_sent"] += 1
        self._send({"type": "auth", "access_token": self.token, "uid": uid})

    def subscribe(self, collection: str, query: Optional[Mapping[str, Any]] = None, event: Optional[str] = None,
                  item: Union[str, int, None] = None, model: Optional[Type[Item]] = None,
                  queue_size: Optional[int] = None) -> SubscriptionState:
        if not isinstance(collection, str) or not collection:
            raise ValueError("collection must be a non-empty string, got %r" % (collection,))
        if event is not None and event not in _EVENTS:
            raise ValueError("event must be one of %s, or None for all, got %r" % (", ".join(_EVENTS), event))
        if item is not None and not (isinstance(item, str) or is_whole(item, None)):
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
        return self._add_subscription(SubscriptionState(uid, message, queue_size or self.queue_size, model,
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
            if kind == "subscribe" and uid is None:
                # Directus 10 and 11 send a subscription's errors without its uid (a refused
                # subscribe, an event it could not read): the one unanswered subscription's, else
                # the connection's only subscription's, else a connection error
                unanswered = [candidate for candidate in self.subscriptions.values()
                              if candidate.status == "pending" and candidate.answer_by is not None]
                if len(unanswered) == 1:
                    subscription = unanswered[0]
                elif not unanswered and len(self.subscriptions) == 1:
                    subscription = next(iter(self.subscriptions.values()))
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
            subscription.answer_by = None
        if event == "delete":
            keys = data if isinstance(data, list) else [data]
            record = RealtimeEvent("delete", data=data, keys=[str(key) for key in keys], meta=meta, uid=uid)
        else:
            record = RealtimeEvent(str(event), data=_as_items(data, meta, subscription.model), meta=meta, uid=uid)
        self.stats["events"] += 1
        subscription.put(record)

    def _subscription_error(self, subscription: SubscriptionState, error: DirectusError) -> None:
        if subscription.status == "pending":  # the subscribe itself was refused: it does not exist
            subscription.fail(error)
            self.subscriptions.pop(subscription.uid, None)
        else:  # an event could not be read (a token gap): it is lost, the subscription lives on
            subscription.put(RealtimeEvent("error", error=error, uid=subscription.uid))


class GraphQLCore(ProtocolCore):
    """graphql-transport-ws on ``/graphql``: ``connection_init`` carries the token.

    Directus does not expire tokens on this socket, and it has no heartbeat of its own: the core
    pings when the connection has been idle for ``heartbeat`` seconds.
    """

    subprotocols = ("graphql-transport-ws",)
    fatal_closes = _GRAPHQL_FATAL_CLOSES
    heartbeat: float  # GRAPHQL_KEEPALIVE unless given: never None

    def __init__(self, clock: Clock, random: Clock, auth_mode: str = "handshake", **settings: Any) -> None:
        settings.setdefault("heartbeat", GRAPHQL_KEEPALIVE)
        super().__init__(clock, random, **settings)
        self.auth_mode = auth_mode
        self.keepalive = self.heartbeat

    resource = DirectusCore.resource

    def _open_protocol(self, now: float) -> None:
        payload = {"access_token": self.token} if self.token and self.auth_mode != "strict" else {}
        self._send({"type": "connection_init", "payload": payload})

    def _schedule_reauth(self, now: float) -> None:
        self.reauth_at = None

    def subscribe(self, query: str, variables: Optional[Mapping[str, Any]] = None, operation_name: Optional[str] = None,
                  queue_size: Optional[int] = None) -> SubscriptionState:
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
        return self._add_subscription(SubscriptionState(uid, message, queue_size or self.queue_size,
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


# --- what the sync and the async room share (no I/O) ---------------------------------------

if TYPE_CHECKING:  # for type checkers, a value of its own type, so that ``is WAIT`` tells it apart
    class Wait(enum.Enum):
        WAIT = 0
    WAIT: Final = Wait.WAIT
else:
    WAIT = object()  # a poll's answer: nothing yet, wait for the connection's next change


def translate_connect_error(error: BaseException, url: str) -> DirectusError:
    """A DirectusError for what went wrong while opening a WebSocket."""
    import sys
    from .websocket import HandshakeError
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
    socket = sys.modules.get("socket")  # a socket timeout exists only once socket is imported: none is here
    if socket is not None and isinstance(error, socket.timeout):
        return TimeoutError("timed out opening the WebSocket connection", url=url)
    return TransportError("cannot open the WebSocket connection: %s" % (error or type(error).__name__), url=url)


class ConnectionBase:
    """What the sync and the async connection share: the URL, the WebSocket of each attempt,
    tokens, moving messages between the core and the WebSocket, and the bookkeeping of a
    connection's end. A subclass brings the I/O: ``guard`` (a context manager around every use of
    the core), ``notify()`` (wake the waiters), ``wake()`` (wake the connection's own loop),
    ``adopt(stream)`` and ``discard(stream)``. Its endpoint gives it the ``plan`` (see
    ``RealtimePlan``), the ``runner`` that runs its flows and the ``clock``."""

    ws: ClientConnection  # of the connection installed last (None before the first): used only once one is

    if TYPE_CHECKING:  # what a subclass brings
        @property
        def guard(self) -> ContextManager[object]: ...
        def notify(self) -> None: ...
        def wake(self) -> None: ...
        def adopt(self, stream: Any) -> None: ...
        def discard(self, stream: Any) -> None: ...

    def __init__(self, endpoint: Endpoint, core: ProtocolCore, plan: RealtimePlan, runner: Any,
                 clock: Clock) -> None:
        self.realtime = endpoint
        self.plan = plan
        self.runner: Any = runner  # the client's Runner or AsyncRunner
        self.clock = clock
        self.logger = endpoint.logger
        self.core = core
        self.path: Optional[str] = None  # the WebSocket path below the base URL, known once the settings are
        self.ws = None  # type: ignore[assignment]  # see above
        self.token_fetch: Optional[object] = None  # the token fetch running, if any
        self._attempt_token: Optional[str] = None  # the token of the last connection attempt

    # --- opening -------------------------------------------------------------------------------
    def _url_parts(self) -> Tuple[str, str, int, str, str]:
        from urllib.parse import urlsplit
        from .http11 import host_header
        parts = urlsplit(self.plan.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        port = parts.port or (443 if scheme == "wss" else 80)
        host = parts.hostname or ""  # the base URL has a host: base_url checked it
        return scheme, host, port, host_header(parts.scheme, host, port), parts.path.rstrip("/") + (self.path or "")

    def where(self) -> str:
        scheme, _, _, host_header, path = self._url_parts()
        return "%s://%s%s" % (scheme, host_header, path)

    def attempt_token_flow(self) -> Generator[Any, Any, Tuple[Optional[str], Optional[float]]]:
        """The flow fetching the token of the next attempt: another one when the last was refused."""
        stale = self._attempt_token if self.core.token_refused else None
        return self.plan.token_flow(stale)

    def new_websocket(self, token: Optional[str]) -> ClientConnection:
        """The sans-I/O WebSocket of an attempt with ``token`` (remembered: if the server refuses it,
        the next attempt asks for another). No ``Origin`` header: the server would check it."""
        from .websocket import ClientConnection
        self._attempt_token = token
        host_header, path = self._url_parts()[3:]
        return ClientConnection(host_header, self.core.resource(path, token), subprotocols=self.core.subprotocols,
                                headers=[("User-Agent", self.plan.user_agent)], max_size=self.realtime.max_size)

    @staticmethod
    def handshake_step(ws: ClientConnection, data: bytes) -> Optional[List[Event]]:
        """Feed handshake bytes: the events that came after ``Accepted`` once it came, else None."""
        from .websocket import Accepted
        if not data:
            raise ConnectionError("the server closed the connection during the WebSocket handshake")
        events = ws.receive_data(data)
        if events and isinstance(events[0], Accepted):
            return events[1:]
        return None

    def install(self, opened: Opened) -> bool:
        """Hand a freshly opened connection to the core; False if the core was closed meanwhile."""
        stream, ws, token, expires_at, events = opened
        with self.guard:
            if self.core.state == "closed":
                self.discard(stream)
                return False
            self.adopt(stream)
            self.ws = ws
            self.core.connection_opened(self.clock(), token, expires_at)
            self.handle_events(events)
            self.notify()
            return True

    def settled(self) -> Union[bool, Wait]:
        """A poll: True once the first connection is ready or closed for good."""
        return True if self.core.state in ("ready", "closed") else WAIT

    def first_failure(self, timeout: float) -> Exception:
        return self.core.last_error or TimeoutError("the realtime connection was not ready within %s s" % timeout,
                                                    url=self.where())

    def first_connect_failed(self, error: BaseException) -> DirectusError:
        """The first attempt failed: the core is closed for good; the DirectusError to raise."""
        failure = translate_connect_error(error, self.where())
        with self.guard:
            self.core.fail(failure)
            self.notify()
        return failure

    # --- running -------------------------------------------------------------------------------
    def outgoing_bytes(self) -> bytes:
        """The bytes of what the core and the WebSocket have queued (under the guard)."""
        ws = self.ws
        for text in self.core.take_outgoing():
            try:
                ws.send_text(text)
            except Exception:  # closing: the rest is dropped, the connection is ending
                break
        return ws.data_to_send()

    def handle_events(self, events: List[Event]) -> Optional[Closed]:
        """Feed WebSocket events to the core; the Closed event, if any."""
        from .websocket import Closed, TextMessage
        now = self.clock()
        for event in events:
            if isinstance(event, TextMessage):
                self.core.message_received(now, event.data)
            elif isinstance(event, Closed):
                return event
        return None

    def token_fetched(self, token: Optional[str], expires_at: Optional[float], error: Optional[Exception]) -> None:
        """The end of a token fetch that ``core.token_wanted`` asked for."""
        with self.guard:
            self.token_fetch = None
            if error is not None:
                self.core.token_failed(self.clock(), error)
            else:
                self.core.token_ready(self.clock(), token, expires_at)
        self.wake()

    def waits(self, poll: Callable[[], Union[_T, Wait]],
               deadline: Optional[float]) -> Generator[Optional[float], None, Union[_T, Wait]]:
        """A wait as a generator: yields the seconds to wait for a change (None: no limit) until
        ``poll()`` answers something other than WAIT, and returns that (WAIT: the deadline passed)."""
        clock = self.clock
        while True:
            result = poll()
            if result is not WAIT:
                return result
            remaining = None if deadline is None else deadline - clock()
            if remaining is not None and remaining <= 0:
                return WAIT
            yield remaining

    # --- ending --------------------------------------------------------------------------------
    def start_closing(self) -> bool:
        """Queue our close frame (the core wants to close); whether to wait for the server's echo."""
        code, reason = self.core.close_wanted or (1000, "")
        try:
            self.ws.close(code, reason)
        except Exception:
            pass
        return self.core.state == "closed"

    def connection_ended(self, closed: Closed) -> None:
        """The socket is gone (``closed`` says how): tell the core, which reconnects unless closed."""
        with self.guard:
            if self.core.state != "closed":
                error = self._loss_error(closed)
                self.core.connection_lost(self.clock(), error, closed.code)
                self.logger.info("realtime connection to %s lost: %s", self.where(), error)
            self.notify()

    def _loss_error(self, closed: Closed) -> Exception:
        if self.core.last_error is not None and self.core.close_wanted is not None:
            return self.core.last_error
        if closed.error:
            return TransportError("WebSocket protocol error: %s" % closed.error, url=self.where())
        if closed.code == 1006:
            return TransportError("the connection ended without a close frame", url=self.where())
        return TransportError("the server closed the connection (%d%s)" % (
            closed.code, ", " + closed.reason if closed.reason else ""), url=self.where())

    def reconnect_deadline(self) -> Optional[float]:
        """When to try again (the backoff), or None when the connection is closed for good."""
        with self.guard:
            if self.core.state == "closed":
                return None
            delay = self.core.reconnect_delay()
        self.logger.info("realtime: reconnecting to %s in %.2f s", self.where(), delay)
        return self.clock() + delay

    def closed_for_good(self) -> Union[bool, Wait]:
        """A poll: True once the core is closed (a reconnect wait ends early)."""
        return True if self.core.state == "closed" else WAIT

    def attempt_failed(self, error: BaseException) -> None:
        with self.guard:
            self.core.connect_failed(self.clock(), translate_connect_error(error, self.where()))
            self.notify()


class SubscriptionBase:
    """What Subscription and AsyncSubscription share: the state, and the poll their waits use."""

    def __init__(self, connection: ConnectionBase, state: SubscriptionState) -> None:
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

    def _poll(self) -> Union[RealtimeEvent, None, Wait]:
        """The next event, None once the subscription ended, WAIT for nothing yet; raises the
        server's refusal once."""
        state = self._state
        if state.queue:
            return state.take()
        if state.status == "failed" and state.error is not None:
            error, state.error = state.error, None
            raise error
        if state.finished:
            return None
        return WAIT

    def _deadline(self, timeout: Optional[float]) -> Optional[float]:
        return None if timeout is None else self._connection.clock() + timeout

    def unsubscribe(self) -> None:
        """Stop the subscription; iteration ends once the events already queued are read."""
        connection = self._connection
        with connection.guard:
            connection.core.unsubscribe(self.uid)
            connection.notify()
        connection.wake()

    close = unsubscribe


class ItemsBase:
    """What RealtimeItems and AsyncRealtimeItems share: the messages and the decoding of replies."""

    def __init__(self, realtime: DirectusEndpoint) -> None:
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


class SocketExchange:
    """One request and its reply over the socket, as polls for a connection's ``wait_for``."""

    def __init__(self, core: ProtocolCore, clock: Clock, message: Mapping[str, Any], kind: str, timeout: float) -> None:
        self.core = core
        self.clock = clock
        self.message = message
        self.kind = kind
        self.timeout = timeout
        self.deadline = clock() + timeout
        self.request: Optional[PendingRequest] = None

    def send(self) -> Union[PendingRequest, Wait]:
        """A poll: sends the request once the connection is ready (it may be reconnecting)."""
        core = self.core
        if core.state == "ready":
            clock = self.clock
            self.request = core.send_request(clock(), self.message, self.kind, max(0.0, self.deadline - clock()))
            return self.request
        if core.state == "closed":
            raise core.fatal or TransportError("the realtime connection is closed", url=core.where)
        return WAIT

    # reply_deadline() and reply() come once send() made the request, which has a deadline
    def reply_deadline(self) -> float:
        return self.request.deadline + 0.05  # type: ignore[union-attr, operator]  # see above

    def reply(self) -> Union[PendingRequest, Wait]:
        """A poll: the request once answered. The connection fails it at its deadline; past that,
        this does, in case the connection is busy elsewhere."""
        request: PendingRequest = self.request  # type: ignore[assignment]  # see above
        if not request.done and self.clock() >= request.deadline:  # type: ignore[operator]
            self.core.tick(self.clock())
        return request if request.done else WAIT

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


def message_to_send(message: Mapping[str, Any]) -> Tuple[Dict[str, Any], str]:
    """``Realtime.send``'s message, checked, without a uid of its own: (message, kind)."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ValueError("message must be a dict with a 'type', got %r" % (message,))
    return {key: value for key, value in message.items() if key != "uid"}, message["type"]


class Endpoint:
    """What every realtime socket object shares, sync or async: its settings, one connection to
    one core (made on first use), the counters. Subclasses give ``_new_core()``,
    ``_discovery_flow()`` (a flow: the settings, from /server/info when some were not given) and
    ``_configure(core, settings)`` (applies them, returns the WebSocket path). It knows no client:
    what it needs comes from ``plan`` (a RealtimePlan), ``runner`` (the client's runner, which
    runs the plan's flows) and the room (``clock``, ``random``)."""

    _connection: Optional[ConnectionBase] = None
    _connection_class = None  # type: Any

    if TYPE_CHECKING:  # what each protocol's endpoint gives
        def _new_core(self) -> ProtocolCore: ...
        def _discovery_flow(self) -> Generator[Any, Any, Settings]: ...
        @staticmethod
        def _configure(core: ProtocolCore, settings: Settings) -> str: ...

    def __init__(self, plan: RealtimePlan, runner: Any, clock: Clock, random: Clock) -> None:
        self._plan = plan
        self._runner = runner  # the client's Runner or AsyncRunner
        self.logger: Logger = runner.logger
        self._clock = clock
        self._random = random
        options = plan.options
        self.timeout = options.timeout
        self.queue_size = options.queue_size
        self.max_size = options.max_size
        self.user_agent = plan.user_agent

    def _new_connection(self) -> ConnectionBase:
        connection: ConnectionBase = self._connection_class(self, self._new_core(), self._plan, self._runner,
                                                            self._clock)
        self._connection = connection
        return connection

    def _configure_connection(self, connection: ConnectionBase, settings: Settings) -> None:
        connection.path = self._configure(connection.core, settings)
        connection.core.where = connection.where()

    def _subscribed(self, connection: ConnectionBase,
                    subscribe: Callable[[Any], SubscriptionState]) -> SubscriptionState:
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


class GraphQLEndpoint(Endpoint):
    """GraphQL subscriptions (graphql-transport-ws) on the server's ``/graphql`` socket, sync or async."""

    def __init__(self, plan: RealtimePlan, runner: Any, clock: Clock, random: Clock,
                 discovery_flow: Callable[[], Generator[Any, Any, Settings]]) -> None:
        super().__init__(plan, runner, clock, random)
        self._settings_flow = discovery_flow  # the Realtime's discovery, of the GraphQL settings

    def _new_core(self) -> GraphQLCore:
        return GraphQLCore(self._clock, self._random, queue_size=self.queue_size, request_timeout=self.timeout,
                            auth_timeout=self.timeout)

    def _discovery_flow(self) -> Generator[Any, Any, Settings]:
        return self._settings_flow()

    @staticmethod
    def _configure(core: ProtocolCore, settings: Settings) -> str:
        core.auth_mode = settings["graphql_auth"]
        path: str = settings["graphql_path"]
        return path

    @staticmethod
    def _subscriber(query: str, variables: Optional[Mapping[str, Any]], operation_name: Optional[str],
                    queue_size: Optional[int]) -> Callable[[GraphQLCore], SubscriptionState]:
        return lambda core: core.subscribe(query, variables, operation_name, queue_size)


class DirectusEndpoint(Endpoint):
    """Directus's own protocol on ``/websocket``, sync or async: settings, discovery, the core."""

    _graphql_class = None  # type: Any
    _items_class = None  # type: Any
    if TYPE_CHECKING:  # what each room gives: its clock and random source, unless the options name others
        @staticmethod
        def _default_clock() -> float: ...
        @staticmethod
        def _default_random() -> float: ...

    def __init__(self, plan: RealtimePlan, runner: Any) -> None:
        options = plan.options
        super().__init__(plan, runner, options.clock or self._default_clock, options.random or self._default_random)
        self._settings: Settings = {"path": options.path, "auth": options.auth, "heartbeat": options.heartbeat,
                                    "graphql_path": options.graphql_path}
        self._info: Optional[Dict[str, Any]] = None
        self._graphql: Optional[GraphQLEndpoint] = None
        self.items = self._items_class(self)

    def __repr__(self) -> str:
        state = self._connection.core.state if self._connection else "not connected"
        return "<%s %s %s>" % (type(self).__name__, self._plan.url, state)

    def _server_info_flow(self) -> Generator[Any, Any, Dict[str, Any]]:
        """A flow: the ``websocket`` block of /server/info (only authenticated users see it), once; {} without."""
        if self._info is None:
            info: Dict[str, Any] = {}
            plan = self._plan
            if plan.credentials_kind != "none":
                try:
                    answer = yield from plan.discovery_flow()
                except APIError as error:
                    self.logger.debug("realtime: /server/info unavailable (%s), using defaults", error)
                    answer = None
                if isinstance(answer, dict) and answer.get("websocket") is False:
                    raise DirectusError("WebSockets are disabled on %s (WEBSOCKETS_ENABLED=false)" % plan.url)
                if isinstance(answer, dict) and isinstance(answer.get("websocket"), dict):
                    info = answer["websocket"]
            self._info = info
        return self._info

    def _discovery_flow(self, graphql: bool = False) -> Generator[Any, Any, Settings]:
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

    def _new_core(self) -> DirectusCore:
        core = DirectusCore(self._clock, self._random, request_timeout=self.timeout, queue_size=self.queue_size,
                            auth_timeout=self.timeout)
        core.keepalive = self._plan.options.keepalive
        return core

    @staticmethod
    def _configure(core: ProtocolCore, settings: Settings) -> str:
        core.auth_mode = settings["auth"]
        core.heartbeat = settings["heartbeat"] or None
        path: str = settings["path"]
        return path

    @staticmethod
    def _subscriber(collection: str, query: Optional[Mapping[str, Any]], event: Optional[str],
                    item: Union[str, int, None], model: Optional[Type[Item]],
                    queue_size: Optional[int]) -> Callable[[DirectusCore], SubscriptionState]:
        return lambda core: core.subscribe(collection, query, event, item, model, queue_size)

    def _graphql_endpoint(self) -> GraphQLEndpoint:
        if self._graphql is None:
            self._graphql = self._graphql_class(self._plan, self._runner, self._clock, self._random,
                                                lambda: self._discovery_flow(graphql=True))
        return self._graphql

    def _exchange(self, connection: ConnectionBase, message: Mapping[str, Any], kind: str,
                  timeout: Optional[float]) -> SocketExchange:
        return SocketExchange(connection.core, self._clock, message, kind, self.timeout if timeout is None else timeout)




# --- what client.realtime() gives its room ----------------------------------------------------------

class RealtimeOptions:
    """The arguments of ``realtime()``, checked (see ``RealtimeFlows.realtime``)."""

    __slots__ = ("path", "auth", "heartbeat", "graphql_path", "timeout", "queue_size", "max_size", "clock", "random",
                 "keepalive")

    def __init__(self, path: Optional[str] = None, auth: Optional[str] = None,
                 heartbeat: Union[float, bool, None] = None, graphql_path: Optional[str] = None,
                 timeout: float = 30.0, queue_size: int = DEFAULT_QUEUE_SIZE, max_size: int = DEFAULT_MAX_SIZE,
                 clock: Optional[Clock] = None, random: Optional[Clock] = None,
                 keepalive: Optional[float] = DIRECTUS_KEEPALIVE) -> None:
        if auth not in (None, "handshake", "strict", "public"):
            raise ValueError("auth must be 'handshake', 'strict' or 'public', got %r" % (auth,))
        if keepalive is not None and (isinstance(keepalive, bool) or not isinstance(keepalive, (int, float))
                                      or keepalive <= 0):
            raise ValueError("keepalive must be a positive number of seconds, or None, got %r" % (keepalive,))
        self.keepalive = keepalive
        self.path = path
        self.auth = auth
        self.heartbeat = heartbeat
        self.graphql_path = graphql_path
        self.timeout = timeout
        self.queue_size = queue_size
        self.max_size = max_size
        self.clock = clock  # None: the room's (time.monotonic)
        self.random = random  # None: the room's (random.random)

    def __repr__(self) -> str:
        return "RealtimeOptions(%s)" % ", ".join("%s=%r" % (name, getattr(self, name)) for name in self.__slots__)


class RealtimePlan:
    """What a room needs to open a client's realtime sockets, and nothing of the client itself:
    ``url`` (the server's base URL), ``connection_settings`` (TLS, timeouts, proxies), the
    ``user_agent``, ``credentials_kind`` (``"static"``, ``"password"`` or ``"none"``: without
    credentials /server/info is not asked), the ``options`` (a RealtimeOptions), and two flow
    factories bound to the client, for its runner to run: ``token_flow(stale)`` (a usable access
    token and its expiry, another than ``stale`` when the session can make one: see
    ``auth.access_token_flow``) and ``discovery_flow()`` (GET /server/info through the client's
    policy, its decoded answer: where the socket settings not given are read)."""

    __slots__ = ("url", "connection_settings", "user_agent", "credentials_kind", "options", "token_flow",
                 "discovery_flow")

    def __init__(self, url: str, connection_settings: ConnectionSettings, user_agent: str, credentials_kind: str,
                 options: RealtimeOptions, token_flow: TokenFlow, discovery_flow: Callable[[], Flow[Any]]) -> None:
        self.url = url
        self.connection_settings = connection_settings
        self.user_agent = user_agent
        self.credentials_kind = credentials_kind
        self.options = options
        self.token_flow = token_flow
        self.discovery_flow = discovery_flow

    def __repr__(self) -> str:
        return "<RealtimePlan %s, %s, %r>" % (self.url, self.credentials_kind, self.options)


class RealtimeFlows:
    """Gives both clients their ``realtime()`` method (a helper of kind ``"realtime"``)."""

    if TYPE_CHECKING:  # what ClientBase, which this is mixed with, brings
        url: str
        connection_settings: ConnectionSettings
        _policy: RequestPolicy
        _credentials: Credentials

        def _raw_request(self, method: str, path: str, params: Optional[Mapping[str, Any]], json: Any, data: Any,
                         headers: Optional[Mapping[str, str]], auth: bool) -> Request: ...

    @helper("realtime")
    def realtime(self, *, path: Optional[str] = None, auth: Optional[str] = None,
                 heartbeat: Union[float, bool, None] = None, graphql_path: Optional[str] = None,
                 timeout: float = 30.0, queue_size: int = DEFAULT_QUEUE_SIZE, max_size: int = DEFAULT_MAX_SIZE,
                 keepalive: Optional[float] = DIRECTUS_KEEPALIVE, clock: Optional[Callable[[], float]] = None,
                 random: Optional[Callable[[], float]] = None) -> RealtimePlan:
        """A realtime (WebSocket) connection to this server; use it as a context manager.

            with client.realtime() as rt:
                for event in rt.subscribe("articles", query={"fields": ["id", "title"]}):
                    ...

            async with async_client.realtime() as rt:
                async for event in rt.subscribe("articles", query={"fields": ["id", "title"]}):
                    ...

        ``path``, ``auth`` (``"handshake"``, ``"strict"`` or ``"public"``) and ``heartbeat`` (the
        server's ping period in seconds, False when it is off) are read from ``/server/info``
        when not given. ``timeout`` bounds connecting and each request; ``queue_size`` the events
        each subscription keeps unread; ``max_size`` a message in bytes. ``keepalive``: seconds
        without a message either way after which the connection pings, to stay below a proxy's
        read timeout (nginx's ``proxy_read_timeout``; None: never). ``clock`` (monotonic seconds)
        and ``random`` (floats in [0, 1), for the reconnect backoff) are for tests.
        Nothing is sent before ``connect()``, ``with`` / ``async with`` or the first ``subscribe()``.
        """
        options = RealtimeOptions(path, auth, heartbeat, graphql_path, timeout, queue_size, max_size, clock, random,
                                  keepalive)
        policy = self._policy

        def token_flow(stale: Optional[str] = None) -> Flow[Tuple[Optional[str], Optional[float]]]:
            return access_token_flow(policy, stale)

        def discovery_flow() -> Flow[Any]:
            request = self._raw_request("GET", "/server/info", None, None, None, None, True)
            return decode_raw((yield from policy.request_flow(request)))

        user_agent = policy.base_headers["User-Agent"]  # the client's own, user_agent= included
        return RealtimePlan(self.url, self.connection_settings, user_agent, self._credentials.kind, options,
                            token_flow, discovery_flow)
