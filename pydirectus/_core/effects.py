"""The effects flows yield, for a runner to perform.

A flow is a generator: it yields an effect, the runner (``_sync/runner.py``, ``_async/runner.py``)
does it and sends back the result, or throws the exception it raised. So a flow holds the logic
and no I/O, and both clients run the very same flows.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from typing import Any, Generator, Optional, Protocol, TypeVar, Union

    from .records import Request, ResponseStream

    T = TypeVar("T")
    # What flows yield, for their runner to perform.
    Effect = Union["Send", "Sleep", "Authenticate", "Read", "Deliver", "LocalFile", "Start", "Join", "Log"]
    # A flow: yields effects, is sent each one's result, returns a T.
    Flow = Generator[Effect, Any, T]
    # A flow run for what it delivers (Deliver(a T) each time); its result, None, is typed
    # Optional[T] only so that the alias names T (spec/generate.py types the helpers from it).
    Delivering = Generator[Effect, Any, Optional[T]]
else:
    Protocol = object  # Started's base at run time: the class only documents what runners return

__all__ = ["Send", "Sleep", "Authenticate", "Read", "Deliver", "LocalFile", "Start", "Join", "Started", "Log",
           "SourceFailed", "FlowSteps"]


class Send:
    """Send ``request``; the result is its Response, or a TransportError is thrown in."""

    __slots__ = ("request",)

    def __init__(self, request: Request) -> None:
        self.request = request


class Sleep:
    """Wait ``seconds``; the result is None."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


class Authenticate:
    """Run ``flow`` (an authentication flow) while holding the client's authentication lock.

    Directus refresh tokens are single use, so only one login or refresh may run at a time per
    client; the flow itself checks, once it holds the lock, whether another caller already did
    the work.
    """

    __slots__ = ("flow",)

    def __init__(self, flow: Flow[object]) -> None:
        self.flow = flow


class Read:
    """Read at most ``size`` bytes of a streamed answer; the result is bytes (b"" at its end), or the
    TransportError of a drop is thrown in."""

    __slots__ = ("stream", "size")

    def __init__(self, stream: ResponseStream, size: int) -> None:
        self.stream = stream
        self.size = size


class Deliver:
    """Hand ``data`` (a chunk of a download, an item of a collection) to whoever iterates the flow;
    the result is None."""

    __slots__ = ("data",)

    def __init__(self, data: object) -> None:
        self.data = data


class LocalFile:
    """Do ``operation`` (the name of a function of ``_sync/localfiles.py``: open a file to send,
    make a download's temporary file, move it into place, ...) with ``args``; the result is what it
    returns, or its OSError is thrown in. The async runner does it in a thread: the core never
    touches a file itself."""

    __slots__ = ("operation", "args")

    def __init__(self, operation: str, *args: Any) -> None:
        self.operation = operation
        self.args = args


class Start:
    """Start running ``flow`` beside this one (the next page of a listing, the next chunk of a bulk
    write); the result is a ``Started`` handle to ``Join`` later. The sync runner runs it in a
    thread, the async runner in a task: on another connection, so that the round trips overlap."""

    __slots__ = ("flow",)

    def __init__(self, flow: Flow[Any]) -> None:
        self.flow = flow


class Join:
    """Wait for a started flow to end; the result is its result, or what it raised is thrown in."""

    __slots__ = ("started",)

    def __init__(self, started: Started) -> None:
        self.started = started


class Started(Protocol):
    """What a runner hands back for ``Start``. A flow that will not join it (it is being closed)
    calls ``cancel()``: the async runner cancels the task; a thread finishes its request, whose
    answer is dropped."""

    def cancel(self) -> None: ...


class Log:
    """Have the client's logger record ``message % args`` at ``level`` (a ``logging`` level
    number: the core does not import logging); the result is None."""

    __slots__ = ("level", "message", "args")

    def __init__(self, level: int, message: str, *args: object) -> None:
        self.level = level
        self.message = message
        self.args = args


class SourceFailed(Exception):
    """Carries an exception raised by the caller's code (an upload's content, a progress callback)
    through the transport.

    Without the wrapper an OSError from reading a file would look like a lost connection to the
    transport (and be retried); ``FlowSteps.fail`` throws the original into the flow instead.
    ``keep_traceback`` False drops the original's traceback: its frames link back to the half-sent
    connection, which would stay open for as long as the caller holds the exception.
    """

    def __init__(self, error: BaseException, keep_traceback: bool = True) -> None:
        super().__init__(error)
        self.error = error
        self.keep_traceback = keep_traceback

    def original(self) -> BaseException:
        """The caller's exception, without the frames of the send when they must not be kept."""
        return self.error if self.keep_traceback else self.error.with_traceback(None)


class FlowSteps:
    """A flow, walked effect by effect: iterating gives its effects; before asking for the next one,
    set ``value`` to the outcome of the last, or call ``fail`` with its exception. ``result`` is
    what the flow returned. As a context manager it closes the flow when the walk stops early, and
    with it what the flow holds open (a streamed answer, a temporary file, a file being sent)."""

    __slots__ = ("flow", "value", "error", "result")

    # any flow: its effects and results are what its runner and its caller know them to be
    flow: Generator[Any, Any, Any]
    value: Any
    error: Optional[BaseException]
    result: Any

    def __init__(self, flow: Generator[Any, Any, Any]) -> None:
        self.flow = flow
        self.value = self.error = self.result = None

    def __iter__(self) -> FlowSteps:
        return self

    def __next__(self) -> Any:
        value, error = self.value, self.error
        self.value = self.error = None
        try:
            if error is not None:
                return self.flow.throw(error)
            return self.flow.send(value)
        except StopIteration as stop:
            self.result = stop.value
            raise StopIteration from None

    def fail(self, error: BaseException) -> None:
        """The last effect raised ``error``: it is thrown into the flow next. A failure of the caller's
        code goes in as the caller's own exception, out of its transport wrapper."""
        self.error = error.original() if isinstance(error, SourceFailed) else error

    def __enter__(self) -> FlowSteps:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.flow.close()
