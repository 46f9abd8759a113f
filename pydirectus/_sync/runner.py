"""The sync runner: performs the effects the core's flows yield (see ``_core/effects.py``) with a
transport, ``time.sleep``, a ``threading.Lock`` that lets one authentication run at a time per
client, and ``localfiles`` for the local-file operations; and makes the sync client's helper
methods (see ``_core/helpers.py``).
"""

from __future__ import annotations

import threading
import time

from .._core.effects import (Authenticate, Deliver, FlowSteps, Join, LocalFile, Log, Read, Send, Sleep, SourceFailed,
                             Start)

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from logging import Logger
    from typing import Any, Callable, Iterator, Optional, TypeVar

    from .._core.effects import Flow
    from .._core.records import Request, Response, Transport

    T = TypeVar("T")

__all__ = ["Runner", "method_for"]

_END = object()  # what next() gives for a flow that ended before its first effect


class Runner:
    """Runs flows: ``run`` to their result, ``iterate`` over what they deliver. ``sleep`` and
    ``clock`` are injectable for tests; ``logger`` gets DEBUG records of each request."""

    def __init__(self, transport: Transport, logger: Logger, sleep: Callable[[float], object] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.transport = transport
        self.logger = logger
        self.sleep = sleep
        self.clock = clock
        self.auth_lock = threading.Lock()

    def run(self, flow: Flow[T]) -> T:
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
                kind = type(effect)
                try:  # whatever performing it raised goes into the flow: it resumes, retries, or lets it go
                    if kind is Send:
                        value = self._send(effect.request)
                    elif kind is Deliver:
                        raise RuntimeError("a flow run for its result delivered something")
                    else:
                        value = self._perform(effect)
                except Exception as exc:
                    error = exc.original() if type(exc) is SourceFailed else exc
        finally:
            flow.close()  # interrupted while performing an effect: end the flow where it stands

    def iterate(self, flow: Flow[Any]) -> Iterator[Any]:
        """What ``flow`` delivers, as an iterator. The flow runs to its first effect now, so that
        its argument checks raise here rather than at the first ``next``."""
        steps = FlowSteps(flow)
        try:
            first = next(steps, _END)
        except BaseException:
            flow.close()
            raise
        return self._iterate(steps, first)

    def _iterate(self, steps: FlowSteps, effect: Any) -> Iterator[Any]:
        with steps:  # closed early: the flow is closed, and what it holds open with it
            while effect is not _END:
                if type(effect) is Deliver:
                    yield effect.data
                else:
                    try:
                        steps.value = self._send(effect.request) if type(effect) is Send else self._perform(effect)
                    except Exception as error:  # the flow decides: it resumes, retries, or lets it go
                        steps.fail(error)
                effect = next(steps, _END)

    def _perform(self, effect: Any) -> Any:  # any effect but Send and Deliver
        kind = type(effect)
        if kind is Sleep:
            self.logger.debug("waiting %.2f s", effect.seconds)
            return self.sleep(effect.seconds)
        if kind is Authenticate:
            with self.auth_lock:
                return self.run(effect.flow)
        if kind is Read:
            return effect.stream.read(effect.size)
        if kind is LocalFile:
            from . import localfiles
            return getattr(localfiles, effect.operation)(*effect.args)
        if kind is Start:
            return _InThread(self, effect.flow)
        if kind is Join:
            return effect.started.join()
        if kind is Log:
            return self.logger.log(effect.level, effect.message, *effect.args)
        raise RuntimeError("a flow yielded an unknown effect: %r" % (effect,))

    def _send(self, request: Request) -> Response:
        if not self.logger.isEnabledFor(10):  # logging.DEBUG, without importing logging here
            return self.transport.send(request)
        started = self.clock()
        try:
            response = self.transport.send(request)
        except Exception as exc:
            self.logger.debug("%s %s failed after %.1f ms: %s", request.method, request.url,
                              (self.clock() - started) * 1000, exc)
            raise
        self.logger.debug("%s %s -> %d in %.1f ms", request.method, request.url, response.status,
                          (self.clock() - started) * 1000)
        return response


class _InThread:
    """A flow started beside another (``Start``), run to its end in a thread of its own; ``join``
    waits for it. The client is safe to share between threads, so the flow uses the same pool,
    credentials and retry budget. ``cancel`` lets the thread finish: its answer is dropped."""

    __slots__ = ("_done", "_result", "_error")

    def __init__(self, runner: Runner, flow: Flow[Any]) -> None:
        self._done = threading.Event()
        self._result: Any = None
        self._error: Optional[BaseException] = None
        threading.Thread(target=self._run, args=(runner, flow), name="pydirectus-ahead", daemon=True).start()

    def _run(self, runner: Runner, flow: Flow[Any]) -> None:
        try:
            self._result = runner.run(flow)
        except BaseException as exc:  # kept for join, which raises it in the flow that waits
            self._error = exc
        finally:
            self._done.set()

    def join(self) -> Any:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._result

    def cancel(self) -> None:
        pass


def method_for(kind: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """The sync client's method for a helper of ``kind`` (see ``_core/helpers.py``)."""
    if kind == "run":
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            return self._runner.run(function(self, *args, **kwargs))
    elif kind == "iterate":
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            return self._runner.iterate(function(self, *args, **kwargs))
    elif kind == "realtime":
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            from .realtime import Realtime
            return Realtime(function(self, *args, **kwargs), self._runner)
    else:
        raise ValueError("no sync method for a helper of kind %r" % (kind,))
    return method
