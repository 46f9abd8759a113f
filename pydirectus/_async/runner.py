"""The async runner: performs the effects the core's flows yield (see ``_core/effects.py``) on the
event loop — the transport awaited, ``asyncio.sleep``, an ``asyncio.Lock`` that lets one
authentication run at a time per client, the local-file operations of ``_sync/localfiles.py`` in
a thread — and makes the async client's helper methods (see ``_core/helpers.py``).

Cancelling a run (``asyncio.wait_for``, ``task.cancel()``) closes its flow where it stands, and
with it what the flow holds open.
"""

from __future__ import annotations

import asyncio
import time

from .._core.effects import (Authenticate, Deliver, FlowSteps, Join, LocalFile, Log, Read, Send, Sleep, SourceFailed,
                             Start)

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from logging import Logger
    from typing import Any, AsyncIterator, Awaitable, Callable, Optional, TypeVar

    from .._core.effects import Flow
    from .._core.records import AsyncTransport, Request, Response

    T = TypeVar("T")

__all__ = ["AsyncRunner", "method_for"]

_END = object()  # what next() gives for a flow that ended before its first effect


class AsyncRunner:
    """Runs flows in a coroutine: ``run`` to their result, ``iterate`` over what they deliver.
    ``sleep`` (a coroutine function) and ``clock`` are injectable for tests; ``logger`` gets DEBUG
    records of each request."""

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
        """Perform the effects of ``flow`` until it returns; what it returns."""
        value: Any = None
        error: Optional[BaseException] = None
        try:
            while True:
                try:  # Any: dispatched on type(effect) through ``kind``, which mypy does not follow
                    effect: Any = flow.throw(error) if error is not None else flow.send(value)
                except StopIteration as stop:
                    result: T = stop.value
                    return result
                finally:
                    value = error = None
                try:  # not CancelledError (a BaseException on 3.8+): it ends the run
                    if type(effect) is Send:
                        value = await self._send(effect.request)
                    elif type(effect) is Deliver:
                        raise RuntimeError("a flow run for its result delivered something")
                    else:
                        value = await self._perform(effect)
                except Exception as exc:
                    error = exc.original() if type(exc) is SourceFailed else exc
        finally:
            flow.close()  # cancelled or failed while waiting on an effect: end the flow where it stands

    def iterate(self, flow: Flow[Any]) -> AsyncIterator[Any]:
        """What ``flow`` delivers, as an async iterator. The flow runs to its first effect now, so
        that its argument checks raise here rather than at the first ``__anext__``."""
        steps = FlowSteps(flow)
        try:
            first = next(steps, _END)
        except BaseException:
            flow.close()
            raise
        return self._iterate(steps, first)

    async def _iterate(self, steps: FlowSteps, effect: Any) -> AsyncIterator[Any]:
        with steps:  # cancelled or closed early: the flow is closed, and what it holds open with it
            while effect is not _END:
                if type(effect) is Deliver:
                    yield effect.data
                else:
                    try:
                        if type(effect) is Send:
                            steps.value = await self._send(effect.request)
                        else:
                            steps.value = await self._perform(effect)
                    except Exception as error:  # not CancelledError: it ends the run
                        steps.fail(error)
                effect = next(steps, _END)

    async def _perform(self, effect: Any) -> Any:  # any effect but Send and Deliver
        kind = type(effect)
        if kind is Sleep:
            self.logger.debug("waiting %.2f s", effect.seconds)
            return await self.sleep(effect.seconds)
        if kind is Authenticate:
            async with self.auth_lock:
                return await self.run(effect.flow)
        if kind is Read:
            return await effect.stream.read(effect.size)
        if kind is LocalFile:
            from .._sync import localfiles
            operation = getattr(localfiles, effect.operation)
            if effect.operation in localfiles.QUICK:  # less than a thread's handoff: in the loop
                return operation(*effect.args)
            return await asyncio.get_running_loop().run_in_executor(None, operation, *effect.args)
        if kind is Start:
            return _InTask(self, effect.flow)
        if kind is Join:
            return await effect.started.join()
        if kind is Log:
            return self.logger.log(effect.level, effect.message, *effect.args)
        raise RuntimeError("a flow yielded an unknown effect: %r" % (effect,))

    async def _send(self, request: Request) -> Response:
        if not self.logger.isEnabledFor(10):  # logging.DEBUG, without importing logging here
            return await self.transport.send(request)
        started = self.clock()
        try:
            response = await self.transport.send(request)
        except Exception as exc:
            self.logger.debug("%s %s failed after %.1f ms: %s", request.method, request.url,
                              (self.clock() - started) * 1000, exc)
            raise
        self.logger.debug("%s %s -> %d in %.1f ms", request.method, request.url, response.status,
                          (self.clock() - started) * 1000)
        return response


class _InTask:
    """A flow started beside another (``Start``), run to its end in a task; ``join`` awaits it,
    ``cancel`` cancels it (the flow that started it is closing and will not join)."""

    __slots__ = ("_task",)

    def __init__(self, runner: AsyncRunner, flow: Flow[Any]) -> None:
        self._task = asyncio.ensure_future(runner.run(flow))
        self._task.add_done_callback(_retrieved)

    async def join(self) -> Any:
        return await self._task

    def cancel(self) -> None:
        self._task.cancel()


def _retrieved(task: asyncio.Future[Any]) -> None:
    """A task nobody joined (it was cancelled, or its flow stopped early): its exception is taken
    here, so that asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


def method_for(kind: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """The async client's method for a helper of ``kind`` (see ``_core/helpers.py``)."""
    method: Callable[..., Any]
    if kind == "run":
        async def coroutine_method(self: Any, *args: Any, **kwargs: Any) -> Any:
            return await self._runner.run(function(self, *args, **kwargs))
        method = coroutine_method
    elif kind == "iterate":
        def iterating_method(self: Any, *args: Any, **kwargs: Any) -> Any:
            return self._runner.iterate(function(self, *args, **kwargs))
        method = iterating_method
    elif kind == "realtime":
        def realtime_method(self: Any, *args: Any, **kwargs: Any) -> Any:
            from .realtime import AsyncRealtime
            return AsyncRealtime(function(self, *args, **kwargs), self._runner)
        method = realtime_method
    else:
        raise ValueError("no async method for a helper of kind %r" % (kind,))
    return method
