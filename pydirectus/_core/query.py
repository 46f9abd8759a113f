"""Encoding of query parameters into a URL query string, by the type the spec gives each one.

Each type (``spec.QUERY_KINDS``) names its encoder here (``ENCODERS``) and how a SEARCH body
carries it. The encoders: ``fields`` (a list of names, nested ``{"relation": [...]}`` objects
allowed, ``{"relation": {"collection": [...]}}`` for a many-to-any relation, or a string), ``csv``
(a list joined by commas, or a string), ``json`` (any JSON value, or a string that already holds
JSON), ``integer``, ``boolean`` and ``string``. A boolean the server reads by its presence
(the spec's ``"presence": true``) is sent as ``true`` when True and left out when False. Nothing
here mutates its arguments.
"""

from __future__ import annotations

import json
import sys

from ..errors import is_whole
from .spec import QUERY_KINDS

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from typing import Any, Callable, Dict, List, Mapping

    from .spec import QueryKind, QueryParam

__all__ = ["encode_query", "encode_free_query", "flatten_fields", "query_object", "quote"]

# Characters Directus reads literally in a query value; leaving them unquoted keeps URLs readable.
_SAFE = ",.*:$-_~"


def quote(text: str, safe: str = "") -> str:
    """urllib.parse.quote, imported on first use: urllib.parse is a good part of import time."""
    global quote
    from urllib.parse import quote as urllib_quote
    quote = urllib_quote  # type: ignore[assignment]  # urllib's is overloaded (str or bytes): a superset
    return urllib_quote(text, safe=safe)


def flatten_fields(fields: object, prefix: str = "") -> List[str]:
    """The field paths Directus reads, from the nested form of a ``fields`` list.

    A name is a field; ``{relation: [...]}`` (or a string, or another such dict) is a relation and
    the fields to read through it; ``{relation: {collection: [...], ...}}`` (a dict as the value) is
    a many-to-any relation and the fields to read from each collection it can point to, written in
    Directus's ``relation:collection.field`` scope syntax::

        ["id", {"author": ["name", {"avatar": ["id"]}]}]    -> id, author.name, author.avatar.id
        [{"item": {"headings": ["title"], "text": ["body"]}}] -> item:headings.title, item:text.body
    """
    if isinstance(fields, str):
        return [prefix + fields]
    if isinstance(fields, dict):
        out: List[str] = []
        for relation, sub in fields.items():
            if not isinstance(relation, str) or not relation:
                raise TypeError("fields: a relation name must be a non-empty string, got %r" % (relation,))
            if isinstance(sub, dict):  # many-to-any: {collection: fields}
                if not sub:
                    raise TypeError("fields: many-to-any relation %r needs at least one collection" % relation)
                for collection, collection_fields in sub.items():
                    if not isinstance(collection, str) or not collection:
                        raise TypeError("fields: a collection of many-to-any relation %r must be a non-empty "
                                        "string, got %r" % (relation, collection))
                    out.extend(flatten_fields(collection_fields, prefix + relation + ":" + collection + "."))
            else:
                out.extend(flatten_fields(sub, prefix + relation + "."))
        return out
    if isinstance(fields, (list, tuple)):
        out = []
        for entry in fields:
            if isinstance(entry, (str, dict, list, tuple)):
                out.extend(flatten_fields(entry, prefix))
            else:
                raise TypeError("fields: expected names or {relation: [...]} objects, got %r" % (entry,))
        return out
    raise TypeError("fields: expected a string, a list or a dict, got %s" % type(fields).__name__)


def _encode_json(name: str, value: object) -> str:
    if isinstance(value, (str, bytes)):
        return value.decode() if isinstance(value, bytes) else value
    try:
        return json.dumps(value, separators=(",", ":"), default=json_default)
    except TypeError as exc:
        raise TypeError("query parameter %r: %s" % (name, exc)) from None


def _encode_csv(name: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    raise TypeError("query parameter %r: expected a string or a list of strings, got %r" % (name, value))


def _encode_fields(name: str, value: object) -> str:
    if isinstance(value, str):
        return value
    return ",".join(flatten_fields(value))


def _encode_integer(name: str, value: object) -> str:
    if not is_whole(value, None):
        raise TypeError("query parameter %r: expected an integer, got %r" % (name, value))
    return str(value)


def _encode_boolean(name: str, value: object) -> str:
    if not isinstance(value, bool):
        raise TypeError("query parameter %r: expected True or False, got %r" % (name, value))
    return "true" if value else "false"


def _encode_string(name: str, value: object) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise TypeError("query parameter %r: expected a string, got %r" % (name, value))
    return value


# the encoders a query kind names (spec.QUERY_KINDS: its ``encoding``): each checks a value and gives its text
ENCODERS: Dict[str, Callable[[str, object], str]] = {
    "fields": _encode_fields, "csv": _encode_csv, "json": _encode_json,
    "integer": _encode_integer, "boolean": _encode_boolean, "string": _encode_string,
}


def _kind(kind: str) -> QueryKind:
    found = QUERY_KINDS.get(kind)
    if found is None:
        raise ValueError("unknown query parameter type %r" % kind)
    return found


def _encode_value(name: str, kind: str, value: object) -> str:
    """The text of ``value`` for a query parameter of type ``kind`` (a key of spec.QUERY_KINDS)."""
    return ENCODERS[_kind(kind).encoding](name, value)


def json_default(value: object) -> Any:
    """How JSON bodies and query values encode what json cannot: Items as their dicts, dates in ISO."""
    to_dict = getattr(value, "to_payload", None) or getattr(value, "to_dict", None)  # Items send to_payload()
    if to_dict is not None:
        return to_dict()
    if hasattr(value, "isoformat"):  # date, datetime, time
        return value.isoformat()
    decimal = sys.modules.get("decimal")  # a Decimal exists only once decimal is imported
    if decimal is not None and isinstance(value, decimal.Decimal):
        return str(value)  # as Directus answers decimals: exact, in a string
    raise TypeError("%s is not JSON serializable" % type(value).__name__)


def encode_query(values: Mapping[str, object], params: Mapping[str, QueryParam]) -> str:
    """The query string (without ``?``) for ``values``, a dict of wire name -> value.

    ``params`` maps each wire name to its QueryParam (which gives the type). None values are left
    out, so ``limit=None`` means "not given".
    """
    parts: List[str] = []
    free: Dict[str, object] = {}
    for wire, value in values.items():
        if value is None:
            continue
        param = params.get(wire)
        if param is None:  # a free query parameter (``params=``): typed by its value
            free[wire] = value
            continue
        text = _encode_value(wire, param.type, value)
        if param.presence and value is False:  # the server would read ?flag=false as yes
            continue
        parts.append(quote(wire, safe=_SAFE) + "=" + quote(text, safe=_SAFE))
    if free:
        parts.append(encode_free_query(free))
    return "&".join(parts)


def encode_free_query(values: Mapping[str, object]) -> str:
    """The query string for parameters the spec does not describe: dicts and lists go as JSON."""
    parts: List[str] = []
    for name, value in values.items():
        if value is None:
            continue
        encode = _encode_json if isinstance(value, (dict, list, tuple)) else \
            _encode_boolean if isinstance(value, bool) else _encode_string
        parts.append(quote(str(name), safe=_SAFE) + "=" + quote(encode(name, value), safe=_SAFE))
    return "&".join(parts)


def query_object(values: Mapping[str, object], params: Mapping[str, QueryParam]) -> Dict[str, Any]:
    """The query as the JSON object a SEARCH body carries: ``{"fields": [...], "filter": {...}, ...}``.

    Values are checked as for the URL, then given their JSON form: JSON values as objects (a
    string holding JSON is parsed), fields and comma lists as their comma string (Directus takes
    that for every one of them, and refuses a list for ``meta``).
    """
    query: Dict[str, Any] = {}
    for wire, value in values.items():
        if value is None:
            continue
        kind = _kind(params[wire].type)
        text = ENCODERS[kind.encoding](wire, value)  # the same checks as in a URL
        if params[wire].presence and value is False:
            continue
        if kind.search == "text":
            query[wire] = text
        elif kind.search == "json":
            query[wire] = json.loads(text)
        else:
            query[wire] = value
    return query
