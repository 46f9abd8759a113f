"""The async performers of effects (see ``effects``): ``AsyncDriver`` performs what policy flows
yield, with an async transport, ``asyncio.sleep`` and an ``asyncio.Lock`` that lets one
authentication run at a time per client; ``AsyncFlowRunner`` runs the helpers' flows (paging,
files, TUS) with AsyncDirectusClient's awaited calls.

It runs the very flows ``driver.SyncDriver`` runs (``policy``, ``auth``, ``bulk``): only the way
each effect is performed differs.

Cancellation: a cancelled task leaves the flow at the effect it was waiting on; the flow is closed
and the cancellation goes on. The token state stays consistent because the flows change it only
between effects: a refresh drops the single-use refresh token before its request goes out, so a
refresh cancelled in flight leaves no token to spend twice, and the next request logs in again.
"""

from __future__ import annotations

import asyncio
import time

from .._core.effects import Authenticate, Blocking, Call, Deliver, Exchange, FlowSteps, Read, Send, Sleep
from ..errors import TransportError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from logging import Logger
    from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Optional, Protocol, Type, TypeVar

    from .._core.effects import Flow, HelperFlow
    from .._core.records import Request, Response
    from ..models import Item
    from .._core.spec import Operation

    T = TypeVar("T")

    class AsyncTransport(Protocol):
        async def send(self, request: Request) -> Response: ...

__all__ = ["AsyncDriver", "AsyncFlowRunner"]


class AsyncDriver:
    """Runs flows to completion in a coroutine. ``sleep`` (a coroutine function) is injectable for
    tests; ``logger`` gets DEBUG records."""

    def __init__(self, transport: AsyncTransport, logger: Logger,
                 sleep: Optional[Callable[[float], Awaitable[object]]] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.transport = transport
        self.logger = logger
        self.sleep: Callable[[float], Awaitable[object]] = sleep or asyncio.sleep
        self.clock = clock
        self._auth_lock: Optional[asyncio.Lock] = None
        self._auth_lock_loop: Optional[asyncio.AbstractEventLoop] = None

    @property
    def auth_lock(self) -> asyncio.Lock:
        """The authentication lock, made in the running event loop (on Python 3.8 and 3.9 a lock
        made outside it would belong to another loop)."""
        loop = asyncio.get_running_loop()
        lock = self._auth_lock
        if lock is None or self._auth_lock_loop is not loop:
            lock = self._auth_lock = asyncio.Lock()
            self._auth_lock_loop = loop
        return lock

    async def run(self, flow: Flow[T]) -> T:
        """Drive ``flow`` until it returns; its return value is the result."""
        value: Any = None
        error: Optional[Exception] = None
        try:
            while True:
                try:  # Any: dispatched on type(effect) through ``kind``, which mypy does not follow
                    effect: Any = flow.throw(error) if error is not None else flow.send(value)
                except StopIteration as stop:
                    result: T = stop.value
                    return result
                finally:
                    value = error = None
                kind = type(effect)
                if kind is Send:
                    try:
                        value = await self._send(effect.request)
                    except TransportError as exc:
                        error = exc
                elif kind is Sleep:
                    self.logger.debug("retrying in %.2f s", effect.seconds)
                    await self.sleep(effect.seconds)
                elif kind is Authenticate:
                    try:
                        async with self.auth_lock:
                            value = await self.run(effect.flow)
                    except Exception as exc:  # not CancelledError (a BaseException on 3.8+): it ends the run
                        error = exc
                else:
                    raise RuntimeError("a flow yielded an unknown effect: %r" % (effect,))
        finally:
            flow.close()  # cancelled or failed while waiting on an effect: end the flow where it stands

    async def _send(self, request: Request) -> Response:
        if not self.logger.isEnabledFor(10):  # logging.DEBUG, without importing logging here
            return await self.transport.send(request)
        started = self.clock()
        try:
            response = await self.transport.send(request)
        except TransportError as exc:
            self.logger.debug("%s %s failed after %.1f ms: %s", request.method, request.url,
                              (self.clock() - started) * 1000, exc.message)
            raise
        self.logger.debug("%s %s -> %d in %.1f ms", request.method, request.url, response.status,
                          (self.clock() - started) * 1000)
        return response


class AsyncFlowRunner:
    """Performs the effects of the helpers' flows with the async client: where they meet its I/O
    (``driver.FlowRunner``'s twin, each effect awaited)."""

    if TYPE_CHECKING:  # what AsyncDirectusClient, which mixes this in, brings
        _driver: AsyncDriver

        async def _call(self, operation: Operation, path_values: Dict[str, object], data: object,
                        query_values: Dict[str, object], model: Optional[Type[Item]]) -> Any: ...

        async def _send(self, request: Request) -> Response: ...

    async def _run(self, flow: HelperFlow[T]) -> T:
        """Run a flow that delivers nothing to its end; what it returns."""
        steps = FlowSteps(flow)
        async for _ in self._iterate(steps):
            raise RuntimeError("a flow run for its result delivered something")
        result: T = steps.result  # FlowSteps walks any flow: its result is the flow's
        return result

    async def _iterate(self, steps: FlowSteps) -> AsyncIterator[Any]:
        """Perform the effects of the flow of ``steps`` (FlowSteps); yield what it delivers."""
        with steps:  # cancelled or closed early: the flow is closed, and what it holds open with it
            for effect in steps:
                if type(effect) is Deliver:
                    yield effect.data
                    continue
                try:
                    steps.value = await self._perform(effect)
                except Exception as error:  # not CancelledError: it ends the run
                    steps.fail(error)

    async def _perform(self, effect: Any) -> Any:  # a HelperEffect, dispatched on type(effect) through ``kind``
        kind = type(effect)
        if kind is Call:
            return await self._call(effect.operation, effect.path_values, None, effect.query_values, effect.model)
        if kind is Exchange:
            return await self._send(effect.request)
        if kind is Read:
            return await effect.stream.read(effect.size)
        if kind is Sleep:
            return await self._driver.sleep(effect.seconds)
        if kind is Blocking:  # reading megabytes of a local file: in a thread, the loop goes on
            return await asyncio.get_running_loop().run_in_executor(None, effect.function, *effect.args)
        raise RuntimeError("a flow yielded an unknown effect: %r" % (effect,))
