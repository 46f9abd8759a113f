"""Directus realtime for ``AsyncDirectusClient``: the protocol of ``_core/realtime.py`` on asyncio.

    async with client.realtime() as rt:
        async for event in rt.subscribe("articles", query={"fields": ["id", "title"]}):
            print(event.type, event.data)

``_AsyncConnection`` drives a core on asyncio streams from one task per connection; the public
classes await where the sync ones (``_sync/realtime.py``) block. Use one realtime object from
the one event loop that opened it; closing it, or cancelling the task waiting on it, leaves no
task running and no socket open.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time

from .transport import open_tunnel
from ..errors import TransportError
from .._core.realtime import (CLOSE_TIMEOUT, WAIT, ConnectionBase, DirectusEndpoint, Endpoint, GraphQLEndpoint,
                              ItemsBase, RealtimeEvent, SubscriptionBase, message_to_send)
from .._sync.transport import keep_alive, socket_route  # where sockets go, shared with the sync room

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - for type checkers only: typing stays out of import time
    from typing import (Any, AsyncIterator, Callable, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Type,
                        TypeVar, Union)

    from ..models import Item
    from .._core.realtime import Clock, Opened, ProtocolCore, RealtimePlan, Wait
    from .._sync.transport import SocketRoute
    from .runner import AsyncRunner
    from .._core.websocket import Closed, Event

    _E = TypeVar("_E", bound="_AsyncEndpoint")
    _T = TypeVar("_T")
    _Stream = Tuple[asyncio.StreamReader, asyncio.StreamWriter]

__all__ = ["AsyncRealtime", "AsyncSubscription", "AsyncRealtimeItems", "AsyncGraphQLRealtime"]

_SEND_BUFFER = 256 * 1024  # past this many unsent bytes, wait for the peer to read (as a blocking send would)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _open_stream(route: SocketRoute) -> _Stream:
    """(reader, writer) along ``route`` (see transport.socket_route): through the proxy's CONNECT
    tunnel when there is one, then TLS when there is a context; TCP keepalive on."""
    host, port, proxy, proxy_headers, context = route
    server_hostname = host if context else None
    if proxy is None:
        reader, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=server_hostname)
    else:
        reader, writer = await open_tunnel(host, port, proxy, proxy_headers, lambda sock: asyncio.open_connection(
            sock=sock, ssl=context, server_hostname=server_hostname))
    keep_alive(writer.get_extra_info("socket"))
    return reader, writer


class _AsyncConnection(ConnectionBase):
    """Drives one core over asyncio streams, from one task (``_task``) that owns the stream.

    There is no thread and no lock: the core is only used from the event loop. Application code
    changes the core and ``wake()``s the task, which sends; waiters on subscriptions and requests
    wait for ``notify()``, which the task calls after each change. Tokens are fetched in a task
    of their own, so server pings are answered meanwhile.
    """

    class _Unguarded:
        """The guard of the core: nothing to do on one event loop."""

        def __enter__(self) -> _AsyncConnection._Unguarded:
            return self

        def __exit__(self, *exc_info: object) -> Literal[False]:
            return False

    guard = _Unguarded()

    reader: Optional[asyncio.StreamReader]
    writer: Optional[asyncio.StreamWriter]
    if TYPE_CHECKING:
        token_fetch: Optional[asyncio.Task[None]]

    def __init__(self, endpoint: Endpoint, core: ProtocolCore, plan: RealtimePlan, runner: Any,
                 clock: Clock) -> None:
        super().__init__(endpoint, core, plan, runner, clock)
        self.reader = self.writer = None
        self._task: Optional[asyncio.Task[None]] = None
        self._wakeup: Optional[asyncio.Future[None]] = None
        self._waiters: List[asyncio.Future[None]] = []

    def notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            _resolve(waiter)

    def wake(self) -> None:
        if self._wakeup is not None:
            _resolve(self._wakeup)

    def adopt(self, stream: _Stream) -> None:
        self.reader, self.writer = stream

    @staticmethod
    def discard(stream: _Stream) -> None:
        stream[1].transport.abort()

    async def _changed(self, timeout: Optional[float]) -> None:
        """Return at the next ``notify()``, or after ``timeout`` seconds (None: no limit)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        timer = None if timeout is None else loop.call_later(timeout, _resolve, waiter)
        try:
            await waiter
        finally:
            if timer is not None:
                timer.cancel()

    async def wait_for(self, poll: Callable[[], Union[_T, Wait]],
                       deadline: Optional[float] = None) -> Union[_T, Wait]:
        """Wait until ``poll()`` answers; WAIT when ``deadline`` passes first."""
        waits = self.waits(poll, deadline)
        try:
            while True:
                await self._changed(next(waits))
        except StopIteration as stop:
            result: Union[_T, Wait] = stop.value
            return result

    # --- opening -------------------------------------------------------------------------------
    async def _open(self) -> Opened:
        """Fetch a token, connect and shake hands: ((reader, writer), ClientConnection, token, expiry, events)."""
        token, expires_at = await self.runner.run(self.attempt_token_flow())
        timeout = self.plan.connection_settings.connect_timeout or 10.0  # None (no bound) opens within 10 s
        clock = self.clock
        deadline = clock() + timeout
        try:
            reader, writer = await asyncio.wait_for(_open_stream(socket_route(self.plan)), timeout)
        except asyncio.TimeoutError:  # on 3.8 to 3.10 not the socket.timeout the error translation knows
            raise socket.timeout("connecting took longer than %s s" % timeout) from None
        try:
            ws = self.new_websocket(token)
            writer.write(ws.handshake_request())
            events: Optional[List[Event]] = None
            while events is None:
                try:
                    data = await asyncio.wait_for(reader.read(65536), max(0.0, deadline - clock()))
                except asyncio.TimeoutError:
                    raise socket.timeout("the WebSocket handshake took longer than %s s" % timeout) from None
                events = self.handshake_step(ws, data)
            return (reader, writer), ws, token, expires_at, events
        except BaseException:
            writer.transport.abort()
            raise

    async def connect(self, timeout: float) -> None:
        """The first connection: raises when it cannot be made ready."""
        try:
            opened = await self._open()
        except Exception as error:
            raise self.first_connect_failed(error) from None
        self.install(opened)
        self._task = asyncio.get_running_loop().create_task(self._run())
        await self.wait_for(self.settled, self.clock() + timeout)
        if self.core.state == "ready":
            return
        failure = self.first_failure(timeout)
        self.core.fail(failure)  # subscriptions made meanwhile raise it too
        await self.aclose()
        raise failure

    # --- the connection's task -------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            while True:
                reader, writer = self.reader, self.writer
                if writer is not None:
                    await self._serve(reader, writer)  # type: ignore[arg-type]  # adopted with the writer
                if not await self._reconnect():
                    return
        except asyncio.CancelledError:  # aclose() gave up waiting, or the event loop is ending
            self.core.close()
            raise
        except BaseException as error:  # a bug: never leave waiters hanging
            self.core.fail(TransportError("the realtime task stopped: %r" % (error,), url=self.where()))
            self.logger.exception("the realtime task failed")
        finally:
            self._drop_stream()
            if self.token_fetch is not None:
                self.token_fetch.cancel()
            self.notify()

    def _flush(self, writer: asyncio.StreamWriter) -> bool:
        """Write what the core and the WebSocket have queued. False: the connection is lost."""
        data = self.outgoing_bytes()
        if data:
            if writer.transport.is_closing():
                return False
            writer.write(data)
        return True

    async def _drained(self, writer: asyncio.StreamWriter) -> bool:
        """Wait while too much is unsent (the peer does not read), at most the connect timeout."""
        if writer.transport.get_write_buffer_size() <= _SEND_BUFFER:
            return True
        try:
            await asyncio.wait_for(writer.drain(), self.plan.connection_settings.connect_timeout or 10.0)
            return True
        except (asyncio.TimeoutError, OSError):
            return False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Run one open connection (on ``reader`` and ``writer``) until it ends."""
        from .._core.websocket import Closed
        ws, core, clock = self.ws, self.core, self.clock
        loop = asyncio.get_running_loop()
        broken = Closed(1006, "", "the connection broke while sending")
        closed: Optional[Closed] = None
        read: Optional[asyncio.Task[bytes]] = None
        try:
            while closed is None:
                core.tick(clock())
                if not self._flush(writer) or not await self._drained(writer):
                    closed = broken
                    break
                if core.close_wanted is not None:
                    break
                if core.token_wanted and self.token_fetch is None:
                    self.token_fetch = loop.create_task(self._fetch_token(core.token))
                deadline = core.next_deadline()
                self.notify()
                if read is None:
                    read = loop.create_task(reader.read(65536))
                self._wakeup = loop.create_future()
                timeout = 5.0 if deadline is None else min(5.0, max(0.0, deadline - clock()))
                await asyncio.wait((read, self._wakeup), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if not read.done():
                    continue
                try:
                    data = read.result()
                except (OSError, EOFError):
                    data = b""
                read = None
                closed = self.handle_events(ws.receive_data(data))
                if not self._flush(writer) and closed is None:
                    closed = broken
                self.notify()
        finally:
            self._wakeup = None
            if read is not None:  # cancelled before it took anything from the stream
                read.cancel()
                await asyncio.wait((read,))  # gone before anyone reads the stream again
        await self._end_connection(reader, writer, closed)

    async def _end_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                              closed: Optional[Closed]) -> None:
        """Close the stream (with a close handshake when the core asked for one), tell the core."""
        from .._core.websocket import Closed
        if closed is None:  # the core wants to close: say so, and wait briefly for the echo
            graceful = self.start_closing()
            if self._flush(writer) and graceful:
                try:
                    await asyncio.wait_for(self._close_echo(reader), CLOSE_TIMEOUT)
                except (asyncio.TimeoutError, OSError):
                    pass
            closed = Closed(1000 if graceful else 1006, "", None)
        self._drop_stream()
        self.connection_ended(closed)

    async def _close_echo(self, reader: asyncio.StreamReader) -> None:
        ws = self.ws
        while ws.state != "CLOSED":
            data = await reader.read(65536)
            ws.receive_data(data)
            if not data:
                return

    def _drop_stream(self) -> None:
        writer, self.writer, self.reader = self.writer, None, None
        if writer is not None:
            writer.transport.abort()

    async def _reconnect(self) -> bool:
        """Wait the backoff and connect again; False when the connection is closed for good."""
        while True:
            deadline = self.reconnect_deadline()
            if deadline is None or await self.wait_for(self.closed_for_good, deadline) is True:
                return False
            try:
                opened = await self._open()
            except Exception as error:
                self.attempt_failed(error)
                continue
            return self.install(opened)

    async def _fetch_token(self, stale: Optional[str]) -> None:
        try:
            token, expires_at = await self.runner.run(self.plan.token_flow(stale))
        except Exception as error:
            self.token_fetched(None, None, error)
        else:
            self.token_fetched(token, expires_at, None)

    # --- closing ---------------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close for good: a close handshake (at most CLOSE_TIMEOUT), then nothing is left running."""
        self.core.close()
        self.notify()
        self.wake()
        task = self._task
        try:
            if task is not None and task is not asyncio.current_task():
                done, _ = await asyncio.wait((task,), timeout=CLOSE_TIMEOUT + 3.0)
                if not done:
                    task.cancel()
                    await asyncio.wait((task,))
        finally:
            if task is not None and not task.done():  # we were cancelled while waiting for it
                task.cancel()
            if self.token_fetch is not None:
                self.token_fetch.cancel()
            self._drop_stream()


class AsyncSubscription(SubscriptionBase):
    """The events of one subscription: ``async for event in subscription``, or ``await get(timeout)``.

    Iteration waits for the next event and ends after ``unsubscribe()`` or when the realtime
    connection is closed. If the server refuses the subscription (a missing collection, no
    permission), iterating raises that DirectusError; other subscriptions are not affected; so
    does a first connection that could not be made.
    """

    if TYPE_CHECKING:
        _connection: _AsyncConnection

    def __aiter__(self) -> AsyncIterator[RealtimeEvent]:
        return self

    async def __anext__(self) -> RealtimeEvent:
        event = await self.get()
        if event is None:
            raise StopAsyncIteration
        return event

    async def get(self, timeout: Optional[float] = None) -> Optional[RealtimeEvent]:
        """The next event; None when ``timeout`` seconds pass first or the subscription ended.

        Raises the server's DirectusError once if it refused the subscription.
        """
        event = await self._connection.wait_for(self._poll, self._deadline(timeout))
        return None if event is WAIT else event

    async def __aenter__(self) -> AsyncSubscription:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.unsubscribe()


class _AsyncEndpoint(Endpoint):
    """The asyncio side of AsyncRealtime and AsyncGraphQLRealtime: one _AsyncConnection, opened
    by ``connect()``, or in the background by the first ``subscribe()``."""

    _connection_class = _AsyncConnection
    _default_clock = staticmethod(time.monotonic)
    _default_random = staticmethod(random.random)
    _opening: Optional[asyncio.Task[None]] = None  # the task opening the first connection
    if TYPE_CHECKING:
        _connection: Optional[_AsyncConnection]
        def _new_connection(self) -> _AsyncConnection: ...

    def _start(self) -> Tuple[_AsyncConnection, asyncio.Task[None]]:
        """The connection, and the task opening it (started in the running event loop if it was not)."""
        connection = self._connection or self._new_connection()
        if self._opening is None:
            self._opening = asyncio.get_running_loop().create_task(self._open_first(connection))
        return connection, self._opening

    async def _open_first(self, connection: _AsyncConnection) -> None:
        """Discover the settings and open the first connection; a failure closes the core for good
        (subscriptions raise it, ``connect()`` raises it) rather than escaping the task."""
        try:
            settings = await self._runner.run(self._discovery_flow())
            self._configure_connection(connection, settings)
            await connection.connect(self.timeout)
        except asyncio.CancelledError:
            connection.core.fail(TransportError("the realtime connection was cancelled while opening",
                                                  url=connection.core.where))
            await connection.aclose()
            raise
        except Exception as error:
            if connection.core.state != "closed":
                connection.core.fail(error)
            connection.notify()

    async def connect(self: _E) -> _E:
        """Open the connection now (``subscribe()`` opens it by itself). Raises if it cannot."""
        connection, opening = self._start()
        try:
            await asyncio.wait((opening,))
        except asyncio.CancelledError:  # whoever waits for the opening and is cancelled abandons it
            opening.cancel()
            raise
        core = connection.core
        if core.state == "closed" and core.fatal is not None:
            raise core.fatal
        return self

    async def aclose(self) -> None:
        """Close the connection; subscriptions end, waiting requests raise; nothing is left running."""
        opening, connection = self._opening, self._connection
        if opening is not None and not opening.done():
            opening.cancel()
            await asyncio.wait((opening,))
        if connection is not None:
            await connection.aclose()

    async def __aenter__(self: _E) -> _E:
        return await self.connect()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()


class AsyncGraphQLRealtime(GraphQLEndpoint, _AsyncEndpoint):
    """GraphQL subscriptions on the server's ``/graphql`` socket, for asyncio (see GraphQLRealtime).

    ``async for event in rt.graphql.subscribe("subscription { articles_mutated { key event } }")``;
    the socket opens with the first subscription.
    """

    def subscribe(self, query: str, variables: Optional[Mapping[str, Any]] = None, *,
                  operation_name: Optional[str] = None, queue_size: Optional[int] = None) -> AsyncSubscription:
        """Start a GraphQL subscription (the socket opens in the background); ``async for`` over it."""
        connection = self._start()[0]
        return AsyncSubscription(connection, self._subscribed(connection, self._subscriber(
            query, variables, operation_name, queue_size)))


class AsyncRealtimeItems(ItemsBase):
    """Items over the socket, awaited: ``create``, ``read``, ``update``, ``delete`` (see RealtimeItems).

    A request whose connection breaks is not sent again: it raises a TransportError with
    ``may_have_been_processed``.
    """

    if TYPE_CHECKING:
        _realtime: AsyncRealtime

    async def _call(self, action: str, collection: str, timeout: Optional[float], model: Optional[Type[Item]] = None,
                    **fields: Any) -> Any:
        reply = await self._realtime._request(self._message(action, collection, fields), "items", timeout)
        return self._result(reply, model)

    async def create(self, collection: str, data: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]], *,
                     query: Optional[Mapping[str, Any]] = None, timeout: Optional[float] = None,
                     model: Optional[Type[Item]] = None) -> Any:
        """An Item for a dict of ``data``, an ItemList for a list."""
        return await self._call("create", collection, timeout, model, data=data, query=query)

    async def read(self, collection: str, id: Union[str, int, None] = None, *,  # noqa: A002
                   ids: Optional[Sequence[Union[str, int]]] = None, query: Optional[Mapping[str, Any]] = None,
                   timeout: Optional[float] = None, model: Optional[Type[Item]] = None) -> Any:
        """An Item by ``id``; an ItemList by ``ids`` or ``query``."""
        return await self._call("read", collection, timeout, model, id=id, ids=ids, query=query)

    async def update(self, collection: str, data: Mapping[str, Any], id: Union[str, int, None] = None, *,  # noqa: A002
                     ids: Optional[Sequence[Union[str, int]]] = None, query: Optional[Mapping[str, Any]] = None,
                     timeout: Optional[float] = None, model: Optional[Type[Item]] = None) -> Any:
        """The Item updated by ``id``; an ItemList by ``ids`` or ``query``."""
        return await self._call("update", collection, timeout, model, data=data, id=id, ids=ids, query=query)

    async def delete(self, collection: str, id: Union[str, int, None] = None, *,  # noqa: A002
                     ids: Optional[Sequence[Union[str, int]]] = None, query: Optional[Mapping[str, Any]] = None,
                     timeout: Optional[float] = None) -> Any:
        """The deleted keys as sent, by ``id``, ``ids`` or ``query``."""
        return await self._call("delete", collection, timeout, id=id, ids=ids, query=query)


class AsyncRealtime(DirectusEndpoint, _AsyncEndpoint):
    """A realtime connection to Directus for asyncio (what ``AsyncDirectusClient.realtime()`` returns).

    ``async with client.realtime() as rt``, then ``async for event in rt.subscribe(...)``;
    ``await rt.items.create(...)`` and the others over the socket; ``rt.graphql`` for GraphQL
    subscriptions on their own socket. It behaves as the sync ``Realtime`` does: authentication
    with the client's credentials (tokens changed on the socket before they expire), pings
    answered, reconnection with backoff and each subscription sent again once.
    """

    _graphql_class = AsyncGraphQLRealtime
    _items_class = AsyncRealtimeItems
    if TYPE_CHECKING:
        items: AsyncRealtimeItems
        _graphql: Optional[AsyncGraphQLRealtime]
        _runner: AsyncRunner
        def _graphql_endpoint(self) -> AsyncGraphQLRealtime: ...

    def __init__(self, plan: RealtimePlan, runner: AsyncRunner) -> None:
        """What ``client.realtime()`` returns: made of its ``plan`` and the client's ``runner`` alone."""
        super().__init__(plan, runner)

    @property
    def graphql(self) -> AsyncGraphQLRealtime:
        """GraphQL subscriptions, on their own socket (opened with the first subscription)."""
        return self._graphql_endpoint()

    def subscribe(self, collection: str, *, query: Optional[Mapping[str, Any]] = None,
                  event: Optional[str] = None, item: Union[str, int, None] = None,
                  model: Optional[Type[Item]] = None, queue_size: Optional[int] = None) -> AsyncSubscription:
        """Subscribe to ``collection``'s changes; ``async for`` over the returned AsyncSubscription.

        The arguments are ``Realtime.subscribe``'s: ``query`` the Directus query object, ``event``
        one of ``"create"``, ``"update"``, ``"delete"``, ``item`` one primary key, ``queue_size``
        the events kept unread. Not a coroutine: the subscription is registered at once and sent
        as soon as the connection is ready (opened in the background if it was not).
        """
        connection = self._start()[0]
        return AsyncSubscription(connection, self._subscribed(connection, self._subscriber(
            collection, query, event, item, model, queue_size)))

    async def _request(self, message: Mapping[str, Any], kind: str, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Send ``message`` with a uid and wait for its reply (waiting for the connection first)."""
        connection = self._start()[0]
        exchange = self._exchange(connection, message, kind, timeout)
        if await connection.wait_for(exchange.send, exchange.deadline) is not WAIT:
            connection.wake()
            await connection.wait_for(exchange.reply, exchange.reply_deadline())
        return exchange.result()

    async def send(self, message: Mapping[str, Any], timeout: Optional[float] = None) -> Dict[str, Any]:
        """Send any message (a dict with ``type``) with a fresh uid; the reply with that uid
        (TimeoutError after ``timeout`` seconds for a type the server ignores)."""
        checked, kind = message_to_send(message)
        return await self._request(checked, kind, timeout)

    async def ping(self, timeout: Optional[float] = None) -> float:
        """The round trip of a ``{"type":"ping"}`` in seconds (servers with the heartbeat on answer)."""
        started = self._clock()
        await self._request({"type": "ping"}, "ping", timeout)
        return self._clock() - started

    async def aclose(self) -> None:
        """Close the connections (and the GraphQL one); subscriptions end, waiting requests raise."""
        if self._graphql is not None:
            await self._graphql.aclose()
        await super().aclose()

