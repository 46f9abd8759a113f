"""The endpoint spec (``endpoints.json``, read by ``client.py``) as Operation records, and its
vocabulary: the single source of truth for what the client can call. Its format is documented in
the repository's ``spec/README.md`` and ``spec/schema.json``.
"""

from __future__ import annotations

import keyword
import re

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing stays out of import time
    from typing import Any, Dict, List, Mapping, Optional, Set, Tuple, Union

    Entry = Dict[str, Any]  # one operation (or parameter) of the spec document, as JSON gives it
    QuerySets = Dict[str, Dict[str, "QueryParam"]]  # set name -> {wire name: QueryParam}

__all__ = ["Operation", "QueryParam", "BodyParam", "load_spec", "load_user_spec", "lint_spec",
           "MethodKind", "PayloadKind", "ResultKind", "QueryKind", "PathKind",
           "OPERATION_METHODS", "PAYLOADS", "RESULTS", "QUERY_KINDS", "PATH_KINDS", "path_kind",
           "METHODS", "PAYLOAD_KINDS", "RESULT_KINDS", "QUERY_TYPES",
           "DIRECTUS_RELEASES", "DIRECTUS_MAJORS", "server_major", "versions_phrase"]


# ------------------------------------------------------------------------------ the vocabulary
# Every word the spec's fields may hold, each entry with what it means to each place that reads it:
# the linter and spec/schema.json's enums (generated from these tables by spec/generate.py), the
# interpreter (signatures, docstrings), records.decode_result, query.py's encoding, the stub and
# reference generator, and the CLI. A new kind is one entry here (plus its decoding or encoding
# when no existing one fits).

class MethodKind:
    """An HTTP method an operation may use. ``idempotent``: a retry after a failure once sent is safe
    (what ``records.Request.idempotent`` says; a test checks that they agree)."""

    __slots__ = ("name", "idempotent")

    name: str
    idempotent: bool

    def __init__(self, name: str, idempotent: bool) -> None:
        self.name = name
        self.idempotent = idempotent

    def __repr__(self) -> str:
        return "MethodKind(%r)" % self.name


class PayloadKind:
    """What an operation's body is. ``stub``: the type of the ``data`` argument in the stubs (None:
    no body); ``doc``: how the docstring names it."""

    __slots__ = ("name", "stub", "doc")

    name: str
    stub: Optional[str]
    doc: str

    def __init__(self, name: str, stub: Optional[str], doc: str) -> None:
        self.name = name
        self.stub = stub
        self.doc = doc

    def __repr__(self) -> str:
        return "PayloadKind(%r)" % self.name


class ResultKind:
    """What an operation's method returns.

    ``decoding``: how records.decode_result reads the answer: ``none``, ``bytes`` (the body),
    ``stream`` (the open answer), ``data`` (the JSON's data member), ``record`` (one record built
    with ``record``, or the caller's ``model=``) or ``records`` (an ItemList of them; a GET whose
    result lists records moves a long query to its SEARCH twin). ``record``: the models class
    (``Item``, ``File``) of a record result, None otherwise; a ``model=`` argument applies exactly
    when it is set. ``stub``: the return type in the stubs; ``model_stub``, ``model_bound``: the return
    type and the TypeVar of the overload taking ``model=``. ``returns``: the docstring's words;
    ``words``: the README table's. ``cli``: how the command line prints it: ``json`` (JSON on
    standard output), ``bytes`` (raw, or into ``--output``), ``stream`` (the same, read then closed).
    """

    __slots__ = ("name", "decoding", "record", "stub", "model_stub", "model_bound", "returns", "words", "cli")

    name: str
    decoding: str
    record: Optional[str]
    stub: str
    model_stub: Optional[str]
    model_bound: Optional[str]
    returns: str
    words: str
    cli: str

    def __init__(self, name: str, decoding: str, stub: str, returns: str, words: str, cli: str = "json",
                 record: Optional[str] = None, model_stub: Optional[str] = None,
                 model_bound: Optional[str] = None) -> None:
        self.name = name
        self.decoding = decoding
        self.record = record
        self.stub = stub
        self.model_stub = model_stub
        self.model_bound = model_bound
        self.returns = returns
        self.words = words
        self.cli = cli

    @property
    def model(self) -> bool:
        """Whether the method takes ``model=`` (an Item subclass to build the records with)."""
        return self.record is not None

    def __repr__(self) -> str:
        return "ResultKind(%r)" % self.name


class QueryKind:
    """The type of a query parameter. ``encoding``: how query.py checks and writes a value (the name
    of one of its encoders: fields, csv, json, integer, boolean, string); ``search``: how a SEARCH
    body carries it (``text``: the URL's text, ``json``: the JSON value, ``value``: the value as
    given); ``stub``: its type in the stubs; ``cli``: the CLI's converter of a flag's text (text,
    integer, boolean, json)."""

    __slots__ = ("name", "encoding", "search", "stub", "cli")

    name: str
    encoding: str
    search: str
    stub: str
    cli: str

    def __init__(self, name: str, encoding: str, search: str, stub: str, cli: str) -> None:
        self.name = name
        self.encoding = encoding
        self.search = search
        self.stub = stub
        self.cli = cli

    def __repr__(self) -> str:
        return "QueryKind(%r)" % self.name


class PathKind:
    """What a path parameter is, told by its name (the spec gives path parameters no type): ``names``
    (empty: every other name), ``stub``: its type in the stubs, ``cli``: the CLI's converter."""

    __slots__ = ("name", "names", "stub", "cli")

    name: str
    names: Tuple[str, ...]
    stub: str
    cli: str

    def __init__(self, name: str, names: Tuple[str, ...], stub: str, cli: str = "text") -> None:
        self.name = name
        self.names = names
        self.stub = stub
        self.cli = cli

    def __repr__(self) -> str:
        return "PathKind(%r)" % self.name


def _table(*entries: Any) -> Dict[str, Any]:
    return {entry.name: entry for entry in entries}


OPERATION_METHODS: Dict[str, MethodKind] = _table(
    MethodKind("GET", idempotent=True),
    MethodKind("POST", idempotent=False),
    MethodKind("PATCH", idempotent=False),
    MethodKind("PUT", idempotent=True),
    MethodKind("DELETE", idempotent=True),
    MethodKind("SEARCH", idempotent=True),
    MethodKind("HEAD", idempotent=True),
    MethodKind("OPTIONS", idempotent=True),
)
PAYLOADS: Dict[str, PayloadKind] = _table(
    PayloadKind("none", None, "nothing"),
    PayloadKind("object", "Mapping[str, Any]", "a dict"),
    PayloadKind("array", "Sequence[Any]", "a list"),
    PayloadKind("json", "Union[Mapping[str, Any], Sequence[Any]]", "a dict or a list"),
    PayloadKind("multipart", "Any", "form fields and files"),
)
RESULTS: Dict[str, ResultKind] = _table(
    ResultKind("item", "record", "Item", "Item", "Item", record="Item", model_stub="_M", model_bound="_M"),
    ResultKind("items", "records", "ItemList[Item]", "ItemList[Item]", "ItemList of Item", record="Item",
               model_stub="ItemList[_M]", model_bound="_M"),
    ResultKind("file", "record", "File", "File", "File", record="File", model_stub="_F", model_bound="_F"),
    ResultKind("files", "records", "ItemList[File]", "ItemList[File]", "ItemList of File", record="File",
               model_stub="ItemList[_F]", model_bound="_F"),
    ResultKind("json", "data", "Any", "the decoded JSON (the answer's data member)", "JSON"),
    ResultKind("bytes", "bytes", "bytes", "bytes", "bytes", cli="bytes"),
    ResultKind("stream", "stream", "Any", "a stream of bytes to read and close", "stream", cli="stream"),
    ResultKind("none", "none", "None", "None", "None"),
)
QUERY_KINDS: Dict[str, QueryKind] = _table(
    QueryKind("fields", "fields", "text", "Union[str, Sequence[Union[str, Mapping[str, Any]]]]", "text"),
    QueryKind("json", "json", "json", "Any", "json"),
    QueryKind("csv", "csv", "text", "Union[str, Sequence[str]]", "text"),
    QueryKind("integer", "integer", "value", "int", "integer"),
    QueryKind("boolean", "boolean", "value", "bool", "boolean"),
    QueryKind("string", "string", "value", "str", "text"),
)
PATH_KINDS: Dict[str, PathKind] = _table(
    PathKind("name", ("collection", "field", "provider"), "str"),
    PathKind("id", (), "_Id"),  # a primary key: a string or an integer
)


# The Directus releases the client is tested against, by major: the words an operation's
# ``versions`` may hold (spec/upstream/routes-<release>.json says what each routes). An operation
# without ``versions`` is in every one; one with it names the majors whose release has it. A server
# of a major outside the table counts as the nearest one (13 as 12, 9 as 10).
DIRECTUS_RELEASES: Dict[str, str] = {
    "10": "10.13.4",
    "11": "11.17.4",
    "12": "12.4.0",
}


def path_kind(name: str) -> PathKind:
    """The kind of the path parameter called ``name``."""
    for kind in PATH_KINDS.values():
        if name in kind.names or not kind.names:
            return kind
    raise LookupError("no path kind for %r" % name)


# the names alone, in table order (the linter's, and spec/schema.json's enums)
METHODS = tuple(OPERATION_METHODS)
PAYLOAD_KINDS = tuple(PAYLOADS)
RESULT_KINDS = tuple(RESULTS)
QUERY_TYPES = tuple(QUERY_KINDS)
DIRECTUS_MAJORS = tuple(int(major) for major in DIRECTUS_RELEASES)
# the operations whose answer tells the server's version (to an administrator), which the client keeps
VERSION_ANSWERS = frozenset({"server_info"})


def server_major(version: object) -> Optional[int]:
    """The major of a Directus version (``"10.13.4"``, ``"11"``, ``"v12.4.0"``) as the spec's
    ``versions`` count it: outside the tested majors, the nearest one. None when ``version`` does not
    start with a number."""
    if not isinstance(version, str):
        return None
    head = version.strip().lstrip("vV").split(".", 1)[0]
    if not head.isdigit():
        return None
    return min(max(int(head), DIRECTUS_MAJORS[0]), DIRECTUS_MAJORS[-1])


def versions_phrase(majors: Tuple[int, ...]) -> str:
    """``"Directus 11 or 12"``: the majors of an operation's ``versions``, in words."""
    names = [str(major) for major in majors]
    return "Directus " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1])

_PATH_PARAM = re.compile(r"{([^{}]*)}")
_OPERATION_KEYS = {"name", "group", "method", "path", "path_params", "query", "payload", "result", "auth", "doc",
                   "body", "payload_required", "free_query", "hand_written", "path_variants", "versions"}


class QueryParam:
    """One query parameter: its Python ``name``, its ``wire`` name in the URL, its ``type``.

    ``presence`` (booleans only): the server reads whether the parameter is there, not its value
    (``?system=false`` means yes), so True is sent and False is left out.
    """

    __slots__ = ("name", "wire", "type", "doc", "presence")

    name: str
    wire: str
    type: str
    doc: str
    presence: bool

    def __init__(self, name: str, type: str, wire: Optional[str] = None, doc: str = "",  # noqa: A002
                 presence: bool = False) -> None:
        self.name = name
        self.wire = wire or name
        self.type = type
        self.doc = doc
        self.presence = presence

    def __repr__(self) -> str:
        return "QueryParam(%r, %r, wire=%r)" % (self.name, self.type, self.wire)


class BodyParam:
    """One member of a JSON body given as its own argument: Python ``name``, ``wire`` name, ``required``."""

    __slots__ = ("name", "wire", "required", "doc")

    name: str
    wire: str
    required: bool
    doc: str

    def __init__(self, name: str, required: bool = False, wire: Optional[str] = None, doc: str = "") -> None:
        self.name = name
        self.wire = wire or name
        self.required = required
        self.doc = doc

    def __repr__(self) -> str:
        return "BodyParam(%r, required=%r, wire=%r)" % (self.name, self.required, self.wire)


class Operation:
    """One spec entry, with its query parameters resolved (``query_params``: wire name -> QueryParam)."""

    __slots__ = ("name", "group", "method", "path", "path_params", "query_params", "payload", "result",
                 "auth", "doc", "body_params", "payload_required", "free_query",
                 "hand_written", "path_variants", "search_operation", "versions", "version_aware")

    name: str
    group: str
    method: str
    path: str
    path_params: Tuple[str, ...]
    query_params: Dict[str, QueryParam]
    payload: str
    result: str
    auth: bool
    doc: str
    body_params: Tuple[BodyParam, ...]
    payload_required: bool
    free_query: bool
    hand_written: bool
    path_variants: Tuple[str, ...]
    search_operation: Optional[Operation]
    versions: Optional[Tuple[int, ...]]
    version_aware: bool

    def __init__(self, entry: Entry, query_sets: QuerySets) -> None:
        self.name = entry["name"]
        self.group = entry["group"]
        self.method = entry["method"]
        self.path = entry["path"]
        self.path_params = tuple(entry["path_params"])
        self.payload = entry["payload"]
        self.result = entry["result"]
        self.auth = entry["auth"]
        self.doc = entry["doc"]
        self.body_params = tuple(BodyParam(**p) for p in entry.get("body", ()))
        self.payload_required = entry.get("payload_required", True)
        self.free_query = entry.get("free_query", False)
        self.hand_written = entry.get("hand_written", False)
        self.path_variants = tuple(entry.get("path_variants", ()))
        self.search_operation = None  # the SEARCH twin a long GET query moves to (set by load_spec)
        # the majors that have it, None for every one: the client reads it once per call, so None is cheap
        versions = entry.get("versions")
        self.versions = tuple(int(major) for major in versions) if versions else None
        # whether a call concerns the server's version: it needs one (versions), or its answer tells it
        self.version_aware = self.versions is not None or self.name in VERSION_ANSWERS
        refs = entry["query"]
        if len(refs) == 1 and isinstance(refs[0], str):
            self.query_params = query_sets[refs[0][1:]]  # one dict for every user of a set: read only
        else:
            params: Dict[str, QueryParam] = {}
            for ref in refs:
                for param in (query_sets[ref[1:]].values() if isinstance(ref, str) else [QueryParam(**ref)]):
                    params[param.wire] = param
            self.query_params = params

    def __repr__(self) -> str:
        return "<Operation %s: %s %s>" % (self.name, self.method, self.path)


def load_spec(data: Entry) -> List[Operation]:
    """The operations of the spec ``data`` (a parsed endpoints.json), in spec order."""
    query_sets: QuerySets = {}
    for name, params in data.get("query_sets", {}).items():
        query_sets[name] = {param.wire: param for param in (QueryParam(**p) for p in params)}
    operations = [Operation(entry, query_sets) for entry in data["operations"]]
    searches = {op.path: op for op in operations if op.method == "SEARCH"}
    for operation in operations:
        if operation.method == "GET" and RESULTS[operation.result].decoding == "records":
            operation.search_operation = searches.get(operation.path)
    return operations


def load_user_spec(spec: Union[List[Entry], Entry], query_sets: Entry) -> List[Operation]:
    """Operations a user describes in the spec format: a dict with ``operations`` (and optionally
    ``query_sets``), or a list of operations.

    The packaged ``query_sets`` (``@global``) can be referred to. Raises ValueError with every problem.
    """
    if isinstance(spec, list):
        spec = {"operations": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("operations"), list):
        raise TypeError("a spec is a dict with an 'operations' list, a list of operations, or a JSON file path")
    data: Entry = {"query_sets": dict(query_sets, **spec.get("query_sets", {})),
            "operations": [dict(entry) for entry in spec["operations"]]}
    for entry in data["operations"]:  # path_params may be left out: the template says them
        entry.setdefault("path_params", _PATH_PARAM.findall(entry.get("path", "")))
        entry.setdefault("query", [])
        entry.setdefault("payload", "none")
        entry.setdefault("result", "json")
        entry.setdefault("auth", True)
        entry.setdefault("group", "custom")
    problems = lint_spec(data)
    if problems:
        raise ValueError("the spec has problems:\n  " + "\n  ".join(problems))
    return load_spec(data)


def left_out(data: Entry) -> List[Entry]:
    """The endpoints the spec ``data`` leaves out on purpose: a list of {method, path, reason}."""
    return list(data.get("left_out", []))


def _reserved_names(entry: Entry) -> Set[str]:
    reserved = {"self", "model", "params"}
    if entry.get("query"):
        reserved.add("query")
    if entry.get("payload", "none") != "none" and not entry.get("body"):
        reserved.add("data")
    return reserved


def _is_public_identifier(name: object) -> bool:
    return isinstance(name, str) and name.isidentifier() and not name.startswith("_") and not keyword.iskeyword(name)


def lint_spec(data: Mapping[str, Any]) -> List[str]:
    """Every problem found in a spec document, as a list of messages (empty when it is sound)."""
    problems: List[str] = []
    query_sets = data.get("query_sets", {})
    for set_name, params in query_sets.items():
        problems.extend(_lint_params("query set %r" % set_name, params))
    seen: Set[str] = set()
    for index, entry in enumerate(data.get("operations", [])):
        name = entry.get("name")
        where = "operation %r" % (name if name else "#%d" % index)
        if not _is_public_identifier(name):
            problems.append("%s: name must be a public Python identifier" % where)
        elif name in seen:
            problems.append("%s: name is not unique" % where)
        seen.add(name)
        unknown = set(entry) - _OPERATION_KEYS
        if unknown:
            problems.append("%s: unknown keys %s" % (where, sorted(unknown)))
        if entry.get("method") not in OPERATION_METHODS:
            problems.append("%s: method %r is not one of %s" % (where, entry.get("method"), tuple(OPERATION_METHODS)))
        path = entry.get("path", "")
        if not (isinstance(path, str) and path.startswith("/")):
            problems.append("%s: path must start with /" % where)
        in_template = _PATH_PARAM.findall(path if isinstance(path, str) else "")
        if in_template != list(entry.get("path_params", [])):
            problems.append("%s: path_params %r do not match the template's %r"
                            % (where, entry.get("path_params"), in_template))
        for param in in_template:
            if not param.isidentifier():
                problems.append("%s: path parameter {%s} is not an identifier" % (where, param))
        for variant in entry.get("path_variants", []):
            if not (isinstance(variant, str) and variant.startswith("/")):
                problems.append("%s: path variant %r must start with /" % (where, variant))
        payload = entry.get("payload")
        if payload not in PAYLOADS:
            problems.append("%s: payload %r is not one of %s" % (where, payload, tuple(PAYLOADS)))
        if entry.get("result") not in RESULTS:
            problems.append("%s: result %r is not one of %s" % (where, entry.get("result"), tuple(RESULTS)))
        for flag in ("auth",) + tuple(k for k in ("payload_required", "free_query", "hand_written") if k in entry):
            if not isinstance(entry.get(flag), bool):
                problems.append("%s: %s must be true or false" % (where, flag))
        if "versions" in entry:
            problems.extend(_lint_versions(where, entry["versions"]))
            if entry.get("hand_written"):
                problems.append("%s: versions on a hand_written operation: the client checks only those it makes"
                                % where)
        doc = entry.get("doc")
        if not (isinstance(doc, str) and doc.strip() and "\n" not in doc):
            problems.append("%s: doc must be one non-empty line" % where)
        body = entry.get("body", [])
        if body and payload != "object":
            problems.append("%s: body parameters need payload 'object'" % where)
        for param in body:
            if not _is_public_identifier(param.get("name")):
                problems.append("%s: body parameter name %r is not an identifier" % (where, param.get("name")))
            if set(param) - {"name", "wire", "required", "doc"}:
                problems.append("%s: body parameter %r has unknown keys" % (where, param.get("name")))
        required_after_optional = [p.get("name") for i, p in enumerate(body)
                                   if p.get("required") and any(not q.get("required") for q in body[:i])]
        if required_after_optional:
            problems.append("%s: required body parameters after optional ones: %s"
                            % (where, ", ".join(required_after_optional)))
        own = [ref for ref in entry.get("query", []) if not isinstance(ref, str)]
        for ref in entry.get("query", []):
            if isinstance(ref, str) and (not ref.startswith("@") or ref[1:] not in query_sets):
                problems.append("%s: query set %r is not defined" % (where, ref))
        problems.extend(_lint_params(where, own))
        names = list(entry.get("path_params", [])) + [p.get("name") for p in body]
        for ref in entry.get("query", []):
            names.extend(p.get("name") for p in (query_sets.get(ref[1:], []) if isinstance(ref, str) else [ref]))
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            problems.append("%s: parameter names used twice: %s" % (where, ", ".join(duplicates)))
        reserved = _reserved_names(entry) & set(names)
        if reserved:
            problems.append("%s: parameter names reserved by the client: %s" % (where, ", ".join(sorted(reserved))))
    for index, entry in enumerate(data.get("left_out", [])):
        if entry.get("method") not in OPERATION_METHODS or not str(entry.get("path", "")).startswith("/") \
                or not str(entry.get("reason", "")).strip():
            problems.append("left_out #%d: needs a method, a path and a reason" % index)
    return problems


def _lint_versions(where: str, versions: object) -> List[str]:
    """The problems of an operation's ``versions``: the majors that have it, from DIRECTUS_RELEASES,
    ascending, at least one, and not every one (then the field is left out)."""
    known = list(DIRECTUS_RELEASES)
    if not (isinstance(versions, list) and versions and all(isinstance(v, str) for v in versions)):
        return ["%s: versions must be a non-empty list of Directus majors, from %s" % (where, known)]
    unknown = [v for v in versions if v not in DIRECTUS_RELEASES]
    if unknown:
        return ["%s: versions %s are not among the tested majors %s" % (where, unknown, known)]
    if versions != sorted(set(versions), key=known.index):
        return ["%s: versions must be ascending, each once: %r" % (where, versions)]
    if len(versions) == len(known):
        return ["%s: versions names every tested major: leave it out" % where]
    return []


def _lint_params(where: str, params: List[Entry]) -> List[str]:
    problems: List[str] = []
    for param in params:
        name = param.get("name")
        if not (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)):
            problems.append("%s: query parameter name %r is not an identifier" % (where, name))
        if param.get("type") not in QUERY_KINDS:
            problems.append("%s: query parameter %r has type %r, not one of %s"
                            % (where, name, param.get("type"), tuple(QUERY_KINDS)))
        unknown = set(param) - {"name", "wire", "type", "doc", "presence"}
        if unknown:
            problems.append("%s: query parameter %r has unknown keys %s" % (where, name, sorted(unknown)))
        if "presence" in param and (not isinstance(param["presence"], bool) or param.get("type") != "boolean"):
            problems.append("%s: query parameter %r: presence must be true or false, on a boolean" % (where, name))
    return problems
