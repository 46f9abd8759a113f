"""The sync performers of effects (see ``effects``): ``SyncDriver`` performs what policy flows
yield, with a transport, ``time.sleep`` and a ``threading.Lock`` that lets one authentication run
at a time per client; ``FlowRunner`` gives DirectusClient's helpers (paging, files, TUS) the
running of their flows with the client's own calls.
"""

from __future__ import annotations

import threading
import time

from .._core.effects import Authenticate, Blocking, Call, Deliver, Exchange, FlowSteps, Read, Send, Sleep
from ..errors import TransportError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from logging import Logger
    from typing import Any, Callable, Dict, Iterator, Optional, Protocol, Type, TypeVar

    from .._core.effects import Flow, HelperFlow
    from .._core.records import Request, Response
    from ..models import Item
    from .._core.spec import Operation

    T = TypeVar("T")

    class Transport(Protocol):
        def send(self, request: Request) -> Response: ...

__all__ = ["SyncDriver", "FlowRunner"]


class SyncDriver:
    """Runs flows to completion. ``sleep`` is injectable for tests; ``logger`` gets DEBUG records."""

    def __init__(self, transport: Transport, logger: Logger, sleep: Callable[[float], object] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.transport = transport
        self.logger = logger
        self.sleep = sleep
        self.clock = clock
        self.auth_lock = threading.Lock()

    def run(self, flow: Flow[T]) -> T:
        """Drive ``flow`` until it returns; its return value is the result."""
        value: Any = None
        error: Optional[Exception] = None
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
                    value = self._send(effect.request)
                except TransportError as exc:
                    error = exc
            elif kind is Sleep:
                self.logger.debug("retrying in %.2f s", effect.seconds)
                self.sleep(effect.seconds)
            elif kind is Authenticate:
                try:
                    with self.auth_lock:
                        value = self.run(effect.flow)
                except Exception as exc:
                    error = exc
            else:
                raise RuntimeError("a flow yielded an unknown effect: %r" % (effect,))

    def _send(self, request: Request) -> Response:
        if not self.logger.isEnabledFor(10):  # logging.DEBUG, without importing logging here
            return self.transport.send(request)
        started = self.clock()
        try:
            response = self.transport.send(request)
        except TransportError as exc:
            self.logger.debug("%s %s failed after %.1f ms: %s", request.method, request.url,
                              (self.clock() - started) * 1000, exc.message)
            raise
        self.logger.debug("%s %s -> %d in %.1f ms", request.method, request.url, response.status,
                          (self.clock() - started) * 1000)
        return response


class FlowRunner:
    """Performs the effects of the helpers' flows with the sync client: where they meet its I/O."""

    if TYPE_CHECKING:  # what DirectusClient, which mixes this in, brings
        _driver: SyncDriver

        def _call(self, operation: Operation, path_values: Dict[str, object], data: object,
                  query_values: Dict[str, object], model: Optional[Type[Item]]) -> Any: ...

        def _send(self, request: Request) -> Response: ...

    def _run(self, flow: HelperFlow[T]) -> T:
        """Run a flow that delivers nothing to its end; what it returns."""
        steps = FlowSteps(flow)
        for _ in self._iterate(steps):
            raise RuntimeError("a flow run for its result delivered something")
        result: T = steps.result  # FlowSteps walks any flow: its result is the flow's
        return result

    def _iterate(self, steps: FlowSteps) -> Iterator[Any]:
        """Perform the effects of the flow of ``steps`` (FlowSteps); yield what it delivers."""
        with steps:  # closed early: the flow is closed, and what it holds open with it
            for effect in steps:
                if type(effect) is Deliver:
                    yield effect.data
                    continue
                try:
                    steps.value = self._perform(effect)
                except Exception as error:  # the flow decides: it resumes, retries, or lets it go
                    steps.fail(error)

    def _perform(self, effect: Any) -> Any:  # a HelperEffect, dispatched on type(effect) through ``kind``
        kind = type(effect)
        if kind is Call:
            return self._call(effect.operation, effect.path_values, None, effect.query_values, effect.model)
        if kind is Exchange:
            return self._send(effect.request)
        if kind is Read:
            return effect.stream.read(effect.size)
        if kind is Sleep:
            return self._driver.sleep(effect.seconds)
        if kind is Blocking:
            return effect.function(*effect.args)
        raise RuntimeError("a flow yielded an unknown effect: %r" % (effect,))
