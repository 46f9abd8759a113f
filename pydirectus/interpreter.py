"""The interpreter: turns each spec Operation into a method, installed once on a client class.

Every method is a small closure with a real ``__signature__`` and a docstring, so ``help()``,
IPython and IDEs see its parameters: the path parameters, then the payload (``data``), then
``query`` (the seed's dict of query parameters), then the query parameters one by one as
keyword-only arguments, and ``model`` for methods that return items. Arguments are checked before
anything is sent. The closure hands the checked arguments to the class's ``_call``, which a sync
and an async client each implement in their own way; for an async client
(``install_operations(..., asynchronous=True)``) the closure is an ``async def`` that awaits it,
with the same signature and docstring.
"""

import inspect

__all__ = ["install_operations", "bind", "bind_arguments", "describe", "MODEL_RESULTS"]

MODEL_RESULTS = ("item", "items", "file", "files")
_RETURNS = {"item": "Item", "items": "ItemList[Item]", "file": "File", "files": "ItemList[File]",
            "json": "the decoded JSON (the answer's data member)", "bytes": "bytes",
            "stream": "a stream of bytes to read and close", "none": "None"}


class _Layout:
    """Where each argument of an operation's method goes, computed once per operation."""

    __slots__ = ("positional", "keyword_only", "required", "accepted", "query_wires")

    def __init__(self, operation):
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
        keyword_only = [param.name for param in operation.query_params.values()]
        if operation.free_query:
            keyword_only.append("params")
        if operation.result in MODEL_RESULTS:
            keyword_only.append("model")
        self.positional = positional
        self.keyword_only = keyword_only
        self.required = required
        self.accepted = frozenset(positional + keyword_only)
        self.query_wires = {param.name: param.wire for param in operation.query_params.values()}


_parameters = {}  # (name, kind, required) -> inspect.Parameter, shared by every method


def _parameter(name, kind, required):
    key = (name, kind, required)
    parameter = _parameters.get(key)
    if parameter is None:
        P = inspect.Parameter
        parameter = _parameters[key] = P(name, kind, default=P.empty if required else None)
    return parameter


class _Signature(inspect.Signature):
    """An ``inspect.Signature`` whose parameters are built on first use.

    Building ~300 signatures when the package is imported costs more than the rest of the
    interpreter, and most programs never ask for one; ``inspect.signature()`` and ``help()`` only
    need the ``__signature__`` attribute to be a Signature, and every Signature method reads the
    parameters through the ``parameters`` property, which builds them here. Made by
    ``Signature.replace`` too, so it also takes the ordinary constructor arguments.
    """

    __slots__ = ("_layout",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._layout = None

    @classmethod
    def of(cls, layout):
        signature = cls.__new__(cls)
        signature._layout = layout
        signature._return_annotation = inspect.Signature.empty
        return signature

    @property
    def parameters(self):
        layout = self._layout
        if layout is not None:
            P = inspect.Parameter
            parameters = [_parameter("self", P.POSITIONAL_OR_KEYWORD, True)]
            parameters += [_parameter(name, P.POSITIONAL_OR_KEYWORD, name in layout.required)
                           for name in layout.positional]
            parameters += [_parameter(name, P.KEYWORD_ONLY, False) for name in layout.keyword_only]
            # the layout is valid by construction (the spec linter checks names): skip re-validating it
            super().__init__(parameters, __validate_parameters__=False)
            self._layout = None
        return self._parameters

    def __repr__(self):  # as inspect.Signature's
        return "<Signature %s>" % self

    def __reduce__(self):  # pickles as a plain Signature
        return inspect.Signature, (tuple(self.parameters.values()),), {"_return_annotation": self.return_annotation}


def describe(operation):
    """The docstring of an operation's method (hand-written methods reuse it too)."""
    lines = [operation.doc, "", "%s %s" % (operation.method, operation.path)]
    lines.extend("%s %s" % (operation.method, variant) for variant in operation.path_variants)
    lines.append("")
    if operation.body_params:
        lines.append("Members of the JSON body:")
        for param in operation.body_params:
            wire = "" if param.wire == param.name else " (``%s``)" % param.wire
            lines.append("    %s%s%s" % (param.name, wire, ": " + param.doc if param.doc else ""))
    elif operation.payload != "none":
        lines.append("data: the request body (%s)%s." % (
            {"object": "a dict", "array": "a list", "json": "a dict or a list",
             "multipart": "form fields and files"}[operation.payload],
            "" if operation.payload_required else ", optional"))
    if operation.query_params:
        lines.append("Query parameters, as keyword arguments or in the ``query`` dict:")
        for param in operation.query_params.values():
            wire = "" if param.wire == param.name else " (``%s``)" % param.wire
            lines.append("    %s%s: %s" % (param.name, wire, param.doc or param.type))
    if operation.free_query:
        lines.append("params: any query parameters, sent as they are (dicts and lists as JSON).")
    if operation.result in MODEL_RESULTS:
        lines.append("model: an Item subclass to build the results with.")
    lines.append("Returns: %s." % _RETURNS[operation.result])
    if not operation.auth:
        lines.append("Sent without credentials.")
    return "\n".join(lines)


def bind_arguments(operation, layout, args, kwargs):
    """Check a call's arguments; return (path values, data, query values by wire name, model).

    This runs on every call: it only walks the arguments given, never the whole parameter list.
    """
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
    for required in layout.required:
        if required not in values:
            missing = [p for p in layout.required if p not in values]
            raise TypeError("%s() missing required argument%s: %s"
                            % (name, "s" if len(missing) > 1 else "", ", ".join(repr(m) for m in missing)))
    query_wires = layout.query_wires
    query_values = {}
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
    for key, value in values.items():
        wire = query_wires.get(key)
        if wire is not None and value is not None:
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
    if operation.body_params:
        data = {p.wire: values[p.name] for p in operation.body_params if values.get(p.name) is not None}
    else:
        data = values.get("data")
    path_values = {p: values[p] for p in operation.path_params}
    return path_values, data, query_values, model


_layouts = {}  # Operation -> _Layout


def _layout_of(operation):
    """The operation's layout, made once whichever client or helper asks first."""
    layout = _layouts.get(operation)
    if layout is None:
        layout = _layouts[operation] = _Layout(operation)
    return layout


def bind(operation, args, kwargs):
    """``bind_arguments`` for hand-written helpers that call an operation with a caller's arguments."""
    return bind_arguments(operation, _layout_of(operation), args, kwargs)


def _make_method(operation, owner, asynchronous=False):
    layout = _layout_of(operation)

    if asynchronous:
        async def method(self, *args, **kwargs):
            return await self._call(operation, *bind_arguments(operation, layout, args, kwargs))
    else:
        def method(self, *args, **kwargs):
            return self._call(operation, *bind_arguments(operation, layout, args, kwargs))

    method.__name__ = operation.name
    method.__qualname__ = "%s.%s" % (owner.__name__, operation.name)
    method.__module__ = owner.__module__
    method.__doc__ = describe(operation)
    method.__signature__ = _Signature.of(layout)
    method.operation = operation
    return method


def install_operations(cls, operations, inherited=None, asynchronous=False):
    """Install one method per operation on ``cls``; a name the class defines itself is an error.

    Operations marked ``hand_written`` are left to the class (login, uploads, ...); a test checks
    that the class has each of them. ``asynchronous``: the methods are coroutine functions that
    await ``cls._call``.
    """
    for operation in operations:
        if operation.hand_written:
            continue
        if operation.name in cls.__dict__ or (inherited is not None and hasattr(cls, operation.name)):
            raise TypeError("%s already defines %s" % (cls.__name__, operation.name))
        setattr(cls, operation.name, _make_method(operation, cls, asynchronous))
    cls.operations = dict(inherited or {}, **{operation.name: operation for operation in operations})
    return cls
