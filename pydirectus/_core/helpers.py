"""The hand-written methods, each written once, for both clients.

A helper is a method of one of the core's mixins (``ClientBase``, ``FileFlows``, ``PagingFlows``,
``TusFlows``, ``RealtimeFlows``) marked with ``@helper(kind)``. It is written as a flow (see
``effects``) with its one public signature and docstring; each client's room turns it into a
method of that client (``install_helpers``), as the interpreter turns the spec's operations into
methods, and spec/generate.py types both stubs from the same function. The kinds:

- ``"run"``: the flow's return value is the result (the async client's method is a coroutine);
- ``"iterate"``: what the flow delivers (``Deliver``) is iterated (an async iterator on the async
  client);
- ``"realtime"``: the method returns the room's realtime connection, made from the
  ``RealtimePlan`` the function returns and the client's runner.

A mixin's method that performs nothing (``asset_url``) is plain, inherited by both clients as is.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from typing import Any, Callable, Dict, Tuple, TypeVar

    _F = TypeVar("_F", bound=Callable[..., Any])
    # what a room gives install_helpers: (kind, the helper's function) -> the client's method
    MethodMaker = Callable[[str, Callable[..., Any]], Callable[..., Any]]

__all__ = ["KINDS", "helper", "helpers_of", "install_helpers"]

KINDS = ("run", "iterate", "realtime")


def helper(kind: str) -> Callable[[_F], _F]:
    """Mark a mixin's method as a helper of ``kind`` (one of ``KINDS``)."""
    if kind not in KINDS:
        raise ValueError("a helper's kind is one of %s, not %r" % (", ".join(KINDS), kind))

    def mark(function: _F) -> _F:
        function.helper_kind = kind  # type: ignore[attr-defined]  # read by helpers_of
        return function
    return mark


def helpers_of(cls: type) -> Dict[str, Tuple[str, Callable[..., Any]]]:
    """The helpers ``cls`` has, by name: (kind, the function written in the core)."""
    found: Dict[str, Tuple[str, Callable[..., Any]]] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            original = getattr(value, "helper_function", value)  # an installed method knows its helper
            kind = getattr(original, "helper_kind", None)
            if kind is not None:
                found[name] = (kind, original)
    return found


def install_helpers(cls: type, make_method: MethodMaker) -> None:
    """Give ``cls`` each of its helpers as a method made by its room's ``make_method``: same name,
    signature (``__wrapped__``, which ``inspect.signature`` follows) and docstring."""
    for name, (kind, function) in helpers_of(cls).items():
        method = make_method(kind, function)
        method.__name__ = function.__name__
        method.__qualname__ = "%s.%s" % (cls.__name__, function.__name__)
        method.__doc__ = function.__doc__
        method.__module__ = cls.__module__
        method.__wrapped__ = function  # type: ignore[attr-defined]
        method.helper_function = function  # type: ignore[attr-defined]
        setattr(cls, name, method)
