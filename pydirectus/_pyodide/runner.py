"""The sync runner under Pyodide: ``_sync/runner.py``'s, but a flow started beside another
(``Start``: the next page of ``iter_items``, the next chunk of a bulk write) runs when it is joined,
in the same call stack, as there are no threads to run it in. The requests are the same, one after
the other instead of overlapping."""

from __future__ import annotations

from .._core.effects import Start
from .._sync.runner import Runner

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from typing import Any, Optional

    from .._core.effects import Flow

__all__ = ["PyodideRunner"]


class PyodideRunner(Runner):
    """A Runner whose ``Start`` defers the started flow to its ``Join`` (no threads in Pyodide)."""

    def _perform(self, effect: Any) -> Any:
        if type(effect) is Start:
            return Deferred(self, effect.flow)
        return Runner._perform(self, effect)


class Deferred:
    """A started flow, run to its end by ``join``; ``cancel`` closes it unrun."""

    __slots__ = ("_runner", "_flow")

    def __init__(self, runner: Runner, flow: Flow[Any]) -> None:
        self._runner = runner
        self._flow: Optional[Flow[Any]] = flow

    def join(self) -> Any:
        flow, self._flow = self._flow, None
        if flow is None:
            raise RuntimeError("a started flow was joined twice, or after it was cancelled")
        return self._runner.run(flow)

    def cancel(self) -> None:
        flow, self._flow = self._flow, None
        if flow is not None:
            flow.close()
