"""Loading the endpoint spec (``endpoints.json`` in this package) into Operation records.

The spec is the single source of truth for what the client can call; its format is documented in
the repository's ``spec/README.md`` and ``spec/schema.json``. ``pkgutil.get_data`` reads it, so a
copy of this package vendored under another name or imported from a zip file finds it too.
"""

import json
import keyword
import pkgutil
import re

__all__ = ["Operation", "QueryParam", "load_spec", "lint_spec",
           "METHODS", "PAYLOAD_KINDS", "RESULT_KINDS", "QUERY_TYPES"]

METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE", "SEARCH", "HEAD", "OPTIONS")
PAYLOAD_KINDS = ("none", "object", "array", "json", "multipart")
RESULT_KINDS = ("item", "items", "file", "files", "json", "bytes", "stream", "none")
QUERY_TYPES = ("fields", "json", "csv", "integer", "boolean", "string")
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "PUT", "DELETE", "OPTIONS", "SEARCH"))
SPEC_RESOURCE = "endpoints.json"
_PATH_PARAM = re.compile(r"{([^{}]*)}")


class QueryParam:
    """One query parameter: its Python ``name``, its ``wire`` name in the URL, its ``type``."""

    __slots__ = ("name", "wire", "type", "doc")

    def __init__(self, name, type, wire=None, doc=""):
        self.name = name
        self.wire = wire or name
        self.type = type
        self.doc = doc

    def __repr__(self):
        return "QueryParam(%r, %r, wire=%r)" % (self.name, self.type, self.wire)


class Operation:
    """One spec entry, with its query parameters resolved (``query_params``: wire name -> QueryParam)."""

    __slots__ = ("name", "group", "method", "path", "path_params", "query_params", "payload",
                 "result", "auth", "doc", "idempotent")

    def __init__(self, entry, query_sets):
        self.name = entry["name"]
        self.group = entry["group"]
        self.method = entry["method"]
        self.path = entry["path"]
        self.path_params = tuple(entry["path_params"])
        self.payload = entry["payload"]
        self.result = entry["result"]
        self.auth = entry["auth"]
        self.doc = entry["doc"]
        self.idempotent = self.method in IDEMPOTENT_METHODS
        params = {}
        for ref in entry["query"]:
            if isinstance(ref, str):
                for param in query_sets[ref[1:]]:
                    params[param.wire] = param
            else:
                param = QueryParam(**ref)
                params[param.wire] = param
        self.query_params = params

    def __repr__(self):
        return "<Operation %s: %s %s>" % (self.name, self.method, self.path)


def load_spec(data=None):
    """The operations of the spec, in spec order. ``data`` (a dict) replaces the packaged spec."""
    if data is None:
        data = json.loads(pkgutil.get_data(__package__, SPEC_RESOURCE).decode("utf-8"))
    query_sets = {name: [QueryParam(**p) for p in params]
                  for name, params in data.get("query_sets", {}).items()}
    return [Operation(entry, query_sets) for entry in data["operations"]]


def lint_spec(data):
    """Every problem found in a spec document, as a list of messages (empty when it is sound)."""
    problems = []
    query_sets = data.get("query_sets", {})
    for set_name, params in query_sets.items():
        problems.extend(_lint_params("query set %r" % set_name, params))
    seen = set()
    for index, entry in enumerate(data.get("operations", [])):
        name = entry.get("name")
        where = "operation %r" % (name if name else "#%d" % index)
        if not (isinstance(name, str) and name.isidentifier() and not name.startswith("_")
                and not keyword.iskeyword(name)):
            problems.append("%s: name must be a public Python identifier" % where)
        elif name in seen:
            problems.append("%s: name is not unique" % where)
        seen.add(name)
        if entry.get("method") not in METHODS:
            problems.append("%s: method %r is not one of %s" % (where, entry.get("method"), METHODS))
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
        if entry.get("payload") not in PAYLOAD_KINDS:
            problems.append("%s: payload %r is not one of %s" % (where, entry.get("payload"), PAYLOAD_KINDS))
        if entry.get("result") not in RESULT_KINDS:
            problems.append("%s: result %r is not one of %s" % (where, entry.get("result"), RESULT_KINDS))
        if not isinstance(entry.get("auth"), bool):
            problems.append("%s: auth must be true or false" % where)
        doc = entry.get("doc")
        if not (isinstance(doc, str) and doc.strip() and "\n" not in doc):
            problems.append("%s: doc must be one non-empty line" % where)
        own = [ref for ref in entry.get("query", []) if not isinstance(ref, str)]
        for ref in entry.get("query", []):
            if isinstance(ref, str) and (not ref.startswith("@") or ref[1:] not in query_sets):
                problems.append("%s: query set %r is not defined" % (where, ref))
        problems.extend(_lint_params(where, own))
        names = list(entry.get("path_params", []))
        for ref in entry.get("query", []):
            names.extend(p.get("name") for p in (query_sets.get(ref[1:], []) if isinstance(ref, str) else [ref]))
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            problems.append("%s: parameter names used twice: %s" % (where, ", ".join(duplicates)))
        reserved = {"self", "query", "model", "data"} & set(names)
        if reserved:
            problems.append("%s: parameter names reserved by the client: %s" % (where, ", ".join(sorted(reserved))))
    return problems


def _lint_params(where, params):
    problems = []
    for param in params:
        name = param.get("name")
        if not (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)):
            problems.append("%s: query parameter name %r is not an identifier" % (where, name))
        if param.get("type") not in QUERY_TYPES:
            problems.append("%s: query parameter %r has type %r, not one of %s"
                            % (where, name, param.get("type"), QUERY_TYPES))
        unknown = set(param) - {"name", "wire", "type", "doc"}
        if unknown:
            problems.append("%s: query parameter %r has unknown keys %s" % (where, name, sorted(unknown)))
    return problems
