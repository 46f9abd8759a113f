"""Directus realtime for ``DirectusClient``: the protocol of ``_core/realtime.py`` on blocking sockets.

    with client.realtime() as rt:
        for event in rt.subscribe("articles", query={"fields": ["id", "title"]}):
            print(event.type, event.data)

``_SyncConnection`` owns the socket from one reader thread (see its docstring); the public
classes block where the async ones (``_async/realtime.py``) await.
"""

from __future__ import annotations

import random
import time

from .._core.realtime import (CLOSE_TIMEOUT, WAIT, ConnectionBase, DirectusEndpoint, Endpoint, GraphQLEndpoint,
                              ItemsBase, RealtimeEvent, SubscriptionBase, message_to_send)
from ..errors import TransportError

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - for type checkers only: typing stays out of import time
    import socket
    import threading
    from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Type, TypeVar, Union

    from ..models import Item
    from .._core.realtime import Clock, Opened, ProtocolCore, RealtimePlan, Wait
    from .._core.websocket import Closed, Event
    from .runner import Runner

    from .transport import SocketRoute
    _T = TypeVar("_T")
    _S = TypeVar("_S", bound="_SyncEndpoint")

__all__ = ["Realtime", "Subscription", "RealtimeEvent", "RealtimeItems", "GraphQLRealtime"]


# --- sync I/O ------------------------------------------------------------------------------

def _open_socket(route: SocketRoute, timeout: float) -> socket.socket:
    """A connected socket along ``route`` (see transport.socket_route): through the proxy's CONNECT
    tunnel when there is one, then TLS when there is a context; TCP keepalive on."""
    from .transport import keep_alive, open_socket
    host, port, proxy, proxy_headers, context = route
    sock = open_socket(host, port, timeout, proxy, proxy_headers, context)
    keep_alive(sock)
    return sock


class _SyncConnection(ConnectionBase):
    """Drives one core over a blocking socket, from a reader thread that owns the socket.

    Every call into the core happens under ``condition``; application threads only change the
    core and ``wake()`` the reader, which sends: frames never interleave and TLS is never used
    from two threads. Waiters on subscriptions and requests wait on
    ``condition`` too; the reader notifies it after each change. Tokens are fetched on a helper
    thread, so server pings are answered meanwhile.
    """

    _wake_read: Optional[socket.socket]
    _wake_write: Optional[socket.socket]
    if TYPE_CHECKING:
        token_fetch: Optional[threading.Thread]

    def __init__(self, endpoint: Endpoint, core: ProtocolCore, plan: RealtimePlan, runner: Any,
                 clock: Clock) -> None:
        import threading
        super().__init__(endpoint, core, plan, runner, clock)
        self.condition = threading.Condition(threading.RLock())
        self.sock: Optional[socket.socket] = None
        self._thread: Optional[threading.Thread] = None
        self._wake_read, self._wake_write = None, None

    @property
    def guard(self) -> threading.Condition:
        return self.condition

    def notify(self) -> None:
        self.condition.notify_all()

    def adopt(self, sock: socket.socket) -> None:
        self.sock = sock

    @staticmethod
    def discard(sock: socket.socket) -> None:
        sock.close()

    def wait_for(self, poll: Callable[[], Union[_T, Wait]], deadline: Optional[float] = None) -> Union[_T, Wait]:
        """Wait (blocking) until ``poll()`` answers, under the condition; WAIT when ``deadline`` passes."""
        with self.condition:
            waits = self.waits(poll, deadline)
            try:
                while True:
                    self.condition.wait(next(waits))
            except StopIteration as stop:
                result: Union[_T, Wait] = stop.value
                return result

    # --- opening ---------------------------------------------------------------------------
    def _open(self) -> Opened:
        """Fetch a token, connect and shake hands: (socket, ClientConnection, token, expiry, events)."""
        import socket
        from .transport import socket_route
        token, expires_at = self.runner.run(self.attempt_token_flow())
        timeout = self.plan.connection_settings.connect_timeout or 10.0  # None (no bound) opens within 10 s
        clock = self.clock
        deadline = clock() + timeout
        sock = _open_socket(socket_route(self.plan), timeout)
        try:
            ws = self.new_websocket(token)
            sock.sendall(ws.handshake_request())
            events: Optional[List[Event]] = None
            while events is None:
                remaining = deadline - clock()
                if remaining <= 0:
                    raise socket.timeout("the WebSocket handshake took longer than %s s" % timeout)
                sock.settimeout(remaining)
                events = self.handshake_step(ws, sock.recv(65536))
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
            raise self.first_connect_failed(error) from None
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self.install(opened)
        self._thread = threading.Thread(target=self._run, name="pydirectus-realtime", daemon=True)
        self._thread.start()
        self.wait_for(self.settled, self.clock() + timeout)
        with self.condition:
            if self.core.state == "ready":
                return
            failure = self.first_failure(timeout)
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
                self.core.fail(TransportError("the realtime reader stopped: %r" % (error,), url=self.where()))
                self.condition.notify_all()
            self.logger.exception("the realtime reader thread failed")
        finally:
            self._drop_socket()
            with self.condition:
                self.condition.notify_all()

    def _flush(self, sock: socket.socket) -> bool:
        """Send what the core and the WebSocket have queued (under the condition). False: lost."""
        data = self.outgoing_bytes()
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
        ws, core, clock = self.ws, self.core, self.clock
        closed: Optional[Closed] = None
        while closed is None:
            with self.condition:
                core.tick(clock())
                if not self._flush(sock):
                    closed = Closed(1006, "", "the connection broke while sending")
                    break
                if core.close_wanted is not None:
                    break
                if core.token_wanted and self.token_fetch is None:
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
                closed = self.handle_events(ws.receive_data(data))
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
                graceful = self.start_closing()
                sent = self._flush(sock)
            if graceful and sent:
                deadline = self.clock() + CLOSE_TIMEOUT
                try:
                    while ws.state != "CLOSED":
                        remaining = deadline - self.clock()
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
        self.connection_ended(closed)

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
            deadline = self.reconnect_deadline()
            if deadline is None or self.wait_for(self.closed_for_good, deadline) is True:
                return False
            try:
                opened = self._open()
            except Exception as error:
                self.attempt_failed(error)
                continue
            return self.install(opened)

    # --- tokens on a helper thread ---------------------------------------------------------------
    def _start_token_fetch(self, stale: Optional[str]) -> None:
        import threading
        self.token_fetch = threading.Thread(target=self._fetch_token, args=(stale,),
                                             name="pydirectus-realtime-token", daemon=True)
        self.token_fetch.start()

    def _fetch_token(self, stale: Optional[str]) -> None:
        try:
            token, expires_at = self.runner.run(self.plan.token_flow(stale))
        except Exception as error:
            self.token_fetched(None, None, error)
        else:
            self.token_fetched(token, expires_at, None)

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


class Subscription(SubscriptionBase):
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
        return None if event is WAIT else event

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.unsubscribe()


class RealtimeItems(ItemsBase):
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


class _SyncEndpoint(Endpoint):
    """The blocking side of Realtime and GraphQLRealtime: one _SyncConnection, opened on first use."""

    _connection_class = _SyncConnection
    _default_clock = staticmethod(time.monotonic)
    _default_random = staticmethod(random.random)
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
        settings = self._runner.run(self._discovery_flow())
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


class GraphQLRealtime(GraphQLEndpoint, _SyncEndpoint):
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


class Realtime(DirectusEndpoint, _SyncEndpoint):
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
        _runner: Runner
        def _graphql_endpoint(self) -> GraphQLRealtime: ...

    def __init__(self, plan: RealtimePlan, runner: Runner) -> None:
        """What ``client.realtime()`` returns: made of its ``plan`` and the client's ``runner`` alone."""
        super().__init__(plan, runner)

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
        if connection.wait_for(exchange.send, exchange.deadline) is not WAIT:
            connection.wake()
            connection.wait_for(exchange.reply, exchange.reply_deadline())
        return exchange.result()

    def send(self, message: Mapping[str, Any], timeout: Optional[float] = None) -> Dict[str, Any]:
        """Send any message (a dict with ``type``) with a fresh uid; the reply with that uid.

        For what the helpers do not cover. The server ignores unknown types: such a request
        raises TimeoutError after ``timeout`` seconds.
        """
        checked, kind = message_to_send(message)
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


