"""The interpreter: turns each spec Operation into a method, installed once on a client class.

Every method is a real Python function with the operation's parameters, so ``help()``, IPython,
IDEs and Python's own argument checking see them: the path parameters, then the payload
(``data``), then ``query`` (the seed's dict of query parameters), then the query parameters one
by one as keyword-only arguments, and ``model`` for methods that return items. Its docstring says
what the operation does and sends.

Each function is made from one template whose code object is copied with the operation's
parameter names (``CodeType.replace``): no source is compiled and ``inspect`` is not imported,
which keeps ``import pydirectus`` cheap. The body hands every argument (``locals()``) to the
operation's binder, which checks the values and passes them to the class's ``_call``; a sync and
an async client each implement ``_call`` in their own way, and for an async client
(``install_operations(..., asynchronous=True)``) the template is an ``async def`` that awaits it.
"""

from __future__ import annotations

import builtins
import sys

from .spec import PAYLOADS, RESULTS, versions_phrase

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing stays out of import time
    from types import CodeType, FunctionType
    from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

    from .spec import Operation, QueryParam

    # what a call's arguments become: path values, payload, query values by wire name, model
    Bound = Tuple[Dict[str, Any], Any, Dict[str, Any], Optional[type]]

__all__ = ["install_operations", "bind", "bind_arguments", "describe", "MODEL_RESULTS"]

# the result kinds whose methods take ``model=`` (spec.RESULTS says which)
MODEL_RESULTS = tuple(name for name, kind in RESULTS.items() if kind.model)


class _QueryFacts:
    """What layouts and docstrings need of a dict of query parameters, made once per dict: the
    operations of a query set share one (spec.Operation), and ~170 of them take the global set."""

    __slots__ = ("params", "names", "wires", "doc")

    params: Dict[str, QueryParam]
    names: Tuple[str, ...]
    wires: Dict[str, str]
    doc: str

    def __init__(self, params: Dict[str, QueryParam]) -> None:
        self.params = params  # kept alive: the cache below is keyed by its id
        self.names = tuple(param.name for param in params.values())
        self.wires = {param.name: param.wire for param in params.values()}
        lines = ["Query parameters, as keyword arguments or in the ``query`` dict:"]
        for param in params.values():
            wire = "" if param.wire == param.name else " (``%s``)" % param.wire
            presence = " (sent only when True: Directus reads any value as yes)" if param.presence else ""
            lines.append("    %s%s: %s%s" % (param.name, wire, param.doc or param.type, presence))
        self.doc = "\n".join(lines)


_query_facts_by_id: Dict[int, _QueryFacts] = {}


def _query_facts(params: Dict[str, QueryParam]) -> _QueryFacts:
    facts = _query_facts_by_id.get(id(params))
    if facts is None or facts.params is not params:
        facts = _query_facts_by_id[id(params)] = _QueryFacts(params)
    return facts


class _Layout:
    """Where each argument of an operation's method goes, computed once per operation."""

    __slots__ = ("positional", "keyword_only", "required", "first_optional", "accepted", "query_wires")

    positional: List[str]
    keyword_only: List[str]
    required: List[str]
    first_optional: int
    accepted: frozenset[str]
    query_wires: Dict[str, str]

    def __init__(self, operation: Operation) -> None:
        positional = list(operation.path_params)
        required = list(operation.path_params)
        if operation.body_params:
            for param in operation.body_params:
                positional.append(param.name)
                if param.required:
                    required.append(param.name)
        elif operation.payload != "none":
            positional.append("data")
            if operation.payload_required:
                required.append("data")
        if operation.query_params:
            positional.append("query")
        query = _query_facts(operation.query_params)
        keyword_only = list(query.names)
        if operation.free_query:
            keyword_only.append("params")
        if RESULTS[operation.result].model:
            keyword_only.append("model")
        self.positional = positional
        self.keyword_only = keyword_only
        self.required = required
        # a Python signature: the required positional parameters first (spec.lint_spec checks it)
        self.first_optional = len(required)
        self.accepted = frozenset(positional + keyword_only)
        self.query_wires = query.wires  # shared by the operations of a query set: read only


def describe(operation: Operation) -> str:
    """The docstring of an operation's method (hand-written methods reuse it too)."""
    lines = [operation.doc, "", "%s %s" % (operation.method, operation.path)]
    lines.extend("%s %s" % (operation.method, variant) for variant in operation.path_variants)
    if operation.versions is not None:
        lines.append("Only on %s: on another version it raises UnsupportedOperationError." % versions_phrase(
            operation.versions))
    lines.append("")
    if operation.body_params:
        lines.append("Members of the JSON body:")
        for param in operation.body_params:
            wire = "" if param.wire == param.name else " (``%s``)" % param.wire
            lines.append("    %s%s%s" % (param.name, wire, ": " + param.doc if param.doc else ""))
    elif operation.payload != "none":
        lines.append("data: the request body (%s)%s." % (
            PAYLOADS[operation.payload].doc, "" if operation.payload_required else ", optional"))
    if operation.query_params:
        lines.append(_query_facts(operation.query_params).doc)
    if operation.free_query:
        lines.append("params: any query parameters, sent as they are (dicts and lists as JSON).")
    result = RESULTS[operation.result]
    if result.model:
        lines.append("model: an Item subclass to build the results with.")
    lines.append("Returns: %s." % result.returns)
    if not operation.auth:
        lines.append("Sent without credentials.")
    return "\n".join(lines)


def bind_values(operation: Operation, layout: _Layout, values: Mapping[str, Any]) -> Bound:
    """Check the values of a call, by parameter name (an absent one is None); return (path values,
    data, query values by wire name, model). Runs on every call."""
    name = operation.name
    query_wires = layout.query_wires
    query_values: Dict[str, Any] = {}
    query = values.get("query") if query_wires else None  # "query" may also be a body member (GraphQL)
    if query is not None:
        if not isinstance(query, dict):
            raise TypeError("%s(): query must be a dict, got %s" % (name, type(query).__name__))
        params = operation.query_params
        for key, value in query.items():
            wire = key if key in params else query_wires.get(key)
            if wire is None:
                raise TypeError("%s(): unknown query parameter %r; expected one of: %s"
                                % (name, key, ", ".join(params) or "none"))
            query_values[wire] = value
    for key, wire in query_wires.items():
        value = values.get(key)
        if value is not None:
            if query_values.get(wire) is not None:
                raise TypeError("%s(): query parameter %r given both as an argument and in query" % (name, key))
            query_values[wire] = value
    free = values.get("params")
    if free is not None:
        if not isinstance(free, dict):
            raise TypeError("%s(): params must be a dict, got %s" % (name, type(free).__name__))
        query_values.update(free)
    model = values.get("model")
    if model is not None and not (isinstance(model, type) and hasattr(model, "from_dict")):
        raise TypeError("%s(): model must be an Item subclass, got %r" % (name, model))
    data: Any
    if operation.body_params:
        data = {p.wire: values[p.name] for p in operation.body_params if values.get(p.name) is not None}
    else:
        data = values.get("data")
    path_values = {p: values[p] for p in operation.path_params}
    return path_values, data, query_values, model


_layouts: Dict[Operation, _Layout] = {}


def _layout_of(operation: Operation) -> _Layout:
    """The operation's layout, made once whichever client or helper asks first."""
    layout = _layouts.get(operation)
    if layout is None:
        layout = _layouts[operation] = _Layout(operation)
    return layout


def bind(operation: Operation, args: Tuple[Any, ...], kwargs: Mapping[str, Any]) -> Bound:
    """A helper's call of ``operation`` with its caller's ``args`` and ``kwargs``, checked as Python
    checks a method's arguments, then as ``bind_values`` checks a method's values."""
    layout = _layout_of(operation)
    positional = layout.positional
    name = operation.name
    if len(args) > len(positional):
        raise TypeError("%s() takes %d positional arguments but %d were given"
                        % (name, len(positional), len(args)))
    values = dict(zip(positional, args))
    for key in kwargs:
        if key in values:
            raise TypeError("%s() got multiple values for argument %r" % (name, key))
        if key not in layout.accepted:
            raise TypeError("%s() got an unexpected keyword argument %r" % (name, key))
    values.update(kwargs)
    missing = [p for p in layout.required if p not in values]
    if missing:
        raise TypeError("%s() missing required argument%s: %s"
                        % (name, "s" if len(missing) > 1 else "", ", ".join(repr(m) for m in missing)))
    return bind_values(operation, layout, values)



# The bodies every method is made of: ``_run`` is the operation's binder and call, put in the
# method's globals; ``locals()`` holds its arguments, by parameter name.
def _template(self: Any) -> Any:
    return _run(self, locals())  # type: ignore[name-defined]  # noqa: F821


async def _async_template(self: Any) -> Any:
    return await _run(self, locals())  # type: ignore[name-defined]  # noqa: F821


# (name, parameters, asynchronous) -> the template's code with those parameters
_CODE_OBJECTS: Dict[Tuple[str, Tuple[str, ...], bool], CodeType] = {}


def _code_of(name: str, layout: _Layout, asynchronous: bool) -> CodeType:
    names = ("self",) + tuple(layout.positional) + tuple(layout.keyword_only)
    key = (name, names, asynchronous)
    code = _CODE_OBJECTS.get(key)
    if code is None:
        changes: Dict[str, Any] = {"co_varnames": names, "co_argcount": 1 + len(layout.positional),
                   "co_kwonlyargcount": len(layout.keyword_only), "co_nlocals": len(names), "co_name": name}
        if sys.version_info >= (3, 11):
            changes["co_qualname"] = name
        code = _CODE_OBJECTS[key] = (_async_template if asynchronous else _template).__code__.replace(**changes)
    return code


def _make_method(operation: Operation, owner: type, asynchronous: bool = False) -> FunctionType:
    layout = _layout_of(operation)

    def run(self: Any, values: Dict[str, Any]) -> Any:
        return self._runner.run(self._call_flow(operation, *bind_values(operation, layout, values)))

    optional = len(layout.positional) - layout.first_optional
    function_type: type[FunctionType] = type(_template)  # type: ignore[assignment]  # types.FunctionType
    method = function_type(_code_of(operation.name, layout, asynchronous),
                             {"__builtins__": builtins, "_run": run}, operation.name, (None,) * optional or None)
    method.__kwdefaults__ = dict.fromkeys(layout.keyword_only) or None
    method.__qualname__ = "%s.%s" % (owner.__name__, operation.name)
    method.__module__ = owner.__module__
    method.__doc__ = describe(operation)
    method.operation = operation  # type: ignore[attr-defined]  # where the stub generator and tests find it
    return method


def install_operations(cls: type, operations: Iterable[Operation], inherited: Optional[Mapping[str, Operation]] = None,
                       asynchronous: bool = False) -> type:
    """Install one method per operation on ``cls``; a name the class defines itself is an error.

    Operations marked ``hand_written`` are left to the class (login, uploads, ...); a test checks
    that the class has each of them. ``asynchronous``: the methods are coroutine functions that
    await ``cls._call``.
    """
    operations = list(operations)
    for operation in operations:
        if operation.hand_written:
            continue
        if operation.name in cls.__dict__ or (inherited is not None and hasattr(cls, operation.name)):
            raise TypeError("%s already defines %s" % (cls.__name__, operation.name))
        setattr(cls, operation.name, _make_method(operation, cls, asynchronous))
    setattr(cls, "operations", dict(inherited or {}, **{operation.name: operation for operation in operations}))
    return cls
