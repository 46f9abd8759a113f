"""The sync driver: performs the effects that policy flows yield, with a transport, ``time.sleep``
and a ``threading.Lock`` that lets one authentication run at a time per client.
"""

import threading
import time

from .effects import Authenticate, Send, Sleep
from .errors import TransportError

__all__ = ["SyncDriver"]


class SyncDriver:
    """Runs flows to completion. ``sleep`` is injectable for tests; ``logger`` gets DEBUG records."""

    def __init__(self, transport, logger, sleep=time.sleep, clock=time.monotonic):
        self.transport = transport
        self.logger = logger
        self.sleep = sleep
        self.clock = clock
        self.auth_lock = threading.Lock()

    def run(self, flow):
        """Drive ``flow`` until it returns; its return value is the result."""
        value = None
        error = None
        while True:
            try:
                effect = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value
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

    def _send(self, request):
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
