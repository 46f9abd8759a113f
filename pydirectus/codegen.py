"""Typed models from a server's schema: what ``python -m pydirectus models`` writes.

    python -m pydirectus models --out myapp/directus_models.py [--import-name NAME] [--collections a,b]
    python -m pydirectus models --out myapp/directus_models.py --check   # exit 1 when the schema changed

The module it writes has one dataclass per user collection (``blog_posts`` -> ``BlogPosts``), a
subclass of ``Model`` (an ``Item``) with one attribute per field, and ``Directus`` and
``AsyncDirectus``, clients whose ``read_items("blog_posts")`` is typed ``ItemList[BlogPosts]`` for
mypy and pyright and returns ``BlogPosts`` instances at run time, without ``model=``.

How Directus types become Python types:

- string, text, uuid, hash, (unknown types) -> ``str`` (``Any`` for a type this module does not know)
- integer, bigInteger -> ``int`` (a bigInteger's string made an int); float -> ``float``;
  boolean -> ``bool`` (SQLite's 0 and 1 made booleans)
- decimal -> ``decimal.Decimal``, built at run time from the server's string or number (and sent
  back as its string). Directus on SQLite reports a decimal field as float: it is typed ``float``
- dateTime, timestamp -> ``datetime.datetime``; date -> ``datetime.date``; time -> ``datetime.time``,
  parsed at run time (ISO 8601; a trailing ``Z`` is UTC); sent back in ISO form
- json, geometry -> ``JSON`` (dicts, lists, strings, numbers, booleans, None); csv -> ``List[str]``
- a many-to-one (a file field too) -> ``Union[<the related key>, <the related model>]``: the key,
  or the model when a ``fields=`` query expands it (``File`` for directus_files, ``Item`` for
  other system collections)
- a one-to-many, many-to-many, many-to-any, translations or files alias -> ``List[Union[<key>,
  <model>]]`` of the related (or junction) collection; a junction's many-to-any ``item`` is the key
  or the model of the collection its ``collection`` field names
- a nullable field is ``Optional[...]``; every field defaults to None at run time (a field a
  ``fields=`` query leaves out is None, whatever its type)

A field whose name is not a Python identifier, that would hide a mapping method (``items``,
``keys``, ``get``, ...) or a name the annotations use (``str``, ``Optional``, a model's name, ...),
is not declared: it stays reachable as ``record["name"]``.
"""

from __future__ import annotations

import hashlib
import json
import keyword
import re

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing stays out of import time
    from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = ["schema_of", "read_schema", "schema_hash", "render_module", "header_hash", "class_name"]

# the Directus field types and the Python type each becomes
SCALARS = {
    "string": "str", "text": "str", "uuid": "str", "hash": "str",
    "integer": "int", "bigInteger": "int", "float": "float", "decimal": "_Decimal", "boolean": "bool",
    "json": "JSON", "csv": "List[str]",
    "dateTime": "_dt.datetime", "timestamp": "_dt.datetime", "date": "_dt.date", "time": "_dt.time",
}
# the run-time converter (a function of the generated module) of the types that need one
CONVERTERS = {"boolean": "_boolean", "bigInteger": "_integer", "decimal": "_decimal", "dateTime": "_datetime",
              "timestamp": "_datetime", "date": "_date", "time": "_time"}
RELATION_SPECIALS = ("o2m", "m2m", "m2a", "translations", "files")
# names a field cannot take: the methods of Item (a mapping)
RESERVED_FIELDS = frozenset((
    "keys", "items", "values", "get", "pop", "popitem", "clear", "update", "setdefault", "to_dict", "from_dict",
    "to_payload",
))
# names of the module a class must not take (the typing names too: TYPING_NAMES)
RESERVED_CLASSES = frozenset(("Directus", "AsyncDirectus", "Item", "Model", "File", "ItemList", "JSON", "MODELS",
                              "TYPE_CHECKING", "Callable", "Dict", "Sequence"))
# names the annotations use: a field of that name would hide them in its class (the datetime module
# and Decimal are imported as _dt and _Decimal, which no declared field can be)
ANNOTATION_NAMES = frozenset(("JSON", "Optional", "Union", "List", "Any", "str", "int", "float", "bool", "File",
                              "Item"))
TYPING_NAMES = ("Any", "AsyncIterator", "Dict", "Iterator", "List", "Literal", "Mapping", "Optional", "Sequence",
                "Type", "TypeVar", "Union", "overload")
HEADER = re.compile(r"^# schema: (sha256:[0-9a-f]{64})$", re.M)

# the client methods the typed clients type per collection: (method, "one" record or "many")
TYPED_METHODS = (
    ("read_items", "many"), ("search_items", "many"), ("read_item", "one"), ("create_items", "many"),
    ("create_item", "one"), ("update_items", "many"), ("update_items_batch", "many"), ("update_item", "one"),
)
SINGLETON_METHODS = (("read_singleton", "one"), ("update_singleton", "one"))


def class_name(collection: str) -> str:
    """The model's name for ``collection``: PascalCase (``blog_posts`` -> ``BlogPosts``)."""
    words = [word for word in re.split(r"[^0-9A-Za-z]+", collection) if word]
    name = "".join(word[:1].upper() + word[1:] for word in words) or "Collection"
    if name[0].isdigit():
        name = "C" + name
    if name in RESERVED_CLASSES or name in TYPING_NAMES or keyword.iskeyword(name):
        name += "Item"
    return name


def _plain_relation(relation: Dict[str, Any]) -> Dict[str, Any]:
    meta = relation.get("meta") or {}
    return {
        "collection": relation.get("collection"), "field": relation.get("field"),
        "related_collection": relation.get("related_collection"),
        "one_field": meta.get("one_field"), "junction_field": meta.get("junction_field"),
        "one_collection_field": meta.get("one_collection_field"),
        "one_allowed_collections": sorted(meta.get("one_allowed_collections") or []),
    }


def schema_of(collections: Sequence[Any], fields: Sequence[Any], relations: Sequence[Any],
              only: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """The part of a schema the module is made of, in a stable order (what the hash covers): the
    user collections (``only`` those, when given; folders left out), their fields, the relations.
    Takes the answers of read_collections, read_fields and read_relations."""
    names: Dict[str, Dict[str, Any]] = {}
    for collection in collections:
        name = collection["collection"]
        meta = collection.get("meta") or {}
        if name.startswith("directus_") or collection.get("schema") is None:
            continue  # system collections, and folders (collections without a table)
        if only is not None and name not in only:
            continue
        names[name] = {"singleton": bool(meta.get("singleton"))}
    if only is not None:
        missing = sorted(set(only) - set(names))
        if missing:
            raise ValueError("no such user collection: %s" % ", ".join(missing))
    # keys of every collection a relation may point to (system ones too: directus_files' is a uuid)
    keys = {"directus_files": "uuid", "directus_users": "uuid", "directus_folders": "uuid",
            "directus_roles": "uuid", "directus_policies": "uuid"}
    plain_fields: Dict[str, List[Dict[str, Any]]] = {name: [] for name in names}
    for field in fields:
        schema = field.get("schema") or {}
        meta = field.get("meta") or {}
        if schema.get("is_primary_key"):
            keys[field["collection"]] = field.get("type")
        if field["collection"] not in names:
            continue
        plain_fields[field["collection"]].append({
            "field": field["field"], "type": field.get("type"),
            "nullable": bool(schema.get("is_nullable", True)) if field.get("schema") else True,
            "primary_key": bool(schema.get("is_primary_key")),
            "special": sorted(meta.get("special") or []),
            "sort": meta.get("sort") or 0, "id": meta.get("id") or 0,
        })
    result = []
    for name in sorted(names):
        entries = sorted(plain_fields[name], key=lambda entry: (not entry["primary_key"], entry["sort"], entry["id"],
                                                                entry["field"]))
        for entry in entries:
            del entry["sort"], entry["id"]
        result.append(dict(names[name], collection=name, fields=entries))
    plain_relations = sorted((_plain_relation(relation) for relation in relations
                              if relation.get("collection") in names or relation.get("related_collection") in names),
                             key=lambda entry: (entry["collection"] or "", entry["field"] or ""))
    return {"collections": result, "relations": plain_relations,
            "keys": {name: key for name, key in sorted(keys.items()) if key}}


def read_schema(client: Any, only: Optional[Sequence[str]] = None) -> Tuple[Dict[str, Any], Optional[str]]:
    """(the schema, the server's version) read from a server with a (sync) client."""
    collections = [dict(entry) for entry in client.read_collections()]
    fields = [dict(entry) for entry in client.read_fields()]
    relations = [dict(entry) for entry in client.read_relations()]
    version = None
    try:
        info = client.server_info()
        version = (info or {}).get("version")
    except Exception:  # the version is for the header only: a token that may not read it is fine
        pass
    return schema_of(collections, fields, relations, only), version


def schema_hash(schema: Dict[str, Any]) -> str:
    """``sha256:<hex>`` of the schema's canonical JSON."""
    text = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


def header_hash(text: str) -> Optional[str]:
    """The schema hash written in a generated module's header, None when there is none."""
    match = HEADER.search(text[:4000])
    return match.group(1) if match else None


class _Field:
    __slots__ = ("name", "annotation", "converter")

    def __init__(self, name: str, annotation: str, converter: Optional[str]) -> None:
        self.name = name
        self.annotation = annotation
        self.converter = converter


class _Module:
    """The rendering of one schema: models, relations, then the text."""

    def __init__(self, schema: Dict[str, Any]) -> None:
        self.schema = schema
        self.classes: Dict[str, str] = {}  # collection -> class name, unique
        taken = set()
        for collection in schema["collections"]:
            name = class_name(collection["collection"])
            while name in taken:
                name += "_"
            taken.add(name)
            self.classes[collection["collection"]] = name
        self.keys = schema["keys"]
        self.m2o = {(relation["collection"], relation["field"]): relation for relation in schema["relations"]}
        self.o2m = {(relation["related_collection"], relation["one_field"]): relation
                    for relation in schema["relations"] if relation["related_collection"] and relation["one_field"]}
        self.converters: List[str] = []

    def key_type(self, collection: Optional[str]) -> str:
        return SCALARS.get(self.keys.get(collection or "") or "", "str") if collection else "str"

    def model_of(self, collection: str) -> str:
        if collection in self.classes:
            return self.classes[collection]
        return "File" if collection == "directus_files" else "Item"

    def field(self, collection: str, entry: Dict[str, Any]) -> Optional[_Field]:
        name, kind, special = entry["field"], entry["type"], entry["special"]
        relation = self.m2o.get((collection, name))
        if kind == "alias" or "no-data" in special:
            relation = self.o2m.get((collection, name))
            if relation is None or not any(tag in special for tag in RELATION_SPECIALS):
                return None  # a presentation or group field: no data
            many = relation["collection"]
            model = self.model_of(many)
            return _Field(name, "List[Union[%s, %s]]" % (self.key_type(many), model),
                          "_many(%s)" % model)
        if relation is not None and relation["related_collection"]:  # a many-to-one (a file field)
            target = relation["related_collection"]
            model = self.model_of(target)
            annotation = "Union[%s, %s]" % (self.key_type(target), model)
            converter: Optional[str] = "_one(%s)" % model
        elif relation is not None and relation["one_allowed_collections"]:  # a many-to-any's item
            models = sorted(set(self.model_of(name) for name in relation["one_allowed_collections"]))
            annotation = "Union[%s]" % ", ".join(["str", "int"] + models)
            converter = "_any(%r)" % (relation["one_collection_field"] or "collection")
        else:
            annotation = "JSON" if kind.startswith("geometry") else SCALARS.get(kind, "Any")
            converter = CONVERTERS.get(kind)
        if entry["nullable"] and annotation != "Any":
            annotation = "Optional[%s]" % annotation
        return _Field(name, annotation, converter)

    def model_lines(self, collection: Dict[str, Any]) -> List[str]:
        name = collection["collection"]
        cls = self.classes[name]
        lines = ["", "", "@dataclass(eq=False, repr=False)", "class %s(Model):" % cls,
                 '    """The items of %s%s."""' % (name, " (a singleton)" if collection["singleton"] else ""),
                 ""]
        converters = []
        declared = 0
        for entry in collection["fields"]:
            field = self.field(name, entry)
            if field is None:
                continue
            if not field.name.isidentifier() or keyword.iskeyword(field.name) or field.name in RESERVED_FIELDS \
                    or field.name.startswith("_") or field.name in ANNOTATION_NAMES \
                    or field.name in self.classes.values():
                lines.append("    # %r (%s) is not declared: read it as item[%r]" % (field.name, field.annotation,
                                                                                     field.name))
                continue
            lines.append("    %s: %s = _absent()" % (field.name, field.annotation))
            declared += 1
            if field.converter:
                converters.append("%r: %s" % (field.name, field.converter))
        if not declared:
            lines.append("    pass")
        if converters:
            self.converters.append("    %s._pydirectus_convert = {%s}" % (cls, ", ".join(converters)))
        return lines

    def overloads(self, asynchronous: bool) -> List[str]:
        from .client import DirectusClient
        from ._core.paging import ITER_ITEMS_PAGE_SIZE, ITER_ITEMS_REFUSED
        from ._core.spec import PAYLOADS, QUERY_KINDS, path_kind
        operations = DirectusClient.operations
        lines: List[str] = []
        singletons = {collection["collection"] for collection in self.schema["collections"] if collection["singleton"]}

        def render(method: str, params: List[str], keywords: List[str], pairs: List[Tuple[str, str, str]],
                   prefix: str) -> None:
            for collection_type, model_param, returns in pairs:
                lines.append("        @overload")
                lines.append("        %sdef %s(" % (prefix, method))
                lines.append("            self,")
                lines.append("            collection: %s," % collection_type)
                lines.extend("            %s," % param for param in params)
                lines.append("            *,")
                lines.extend("            %s," % param for param in keywords)
                lines.append("            %s," % model_param)
                lines.append("        ) -> %s: ..." % returns)
            lines.append("        %sdef %s(self, *arguments: Any, **keywords: Any) -> Any:" % (prefix, method))
            lines.append("            raise NotImplementedError")
            lines.append("")

        def parameters(name: str) -> Tuple[List[str], List[str]]:
            operation = operations[name]
            params = ["%s: %s" % (path, path_kind(path).stub.replace("_Id", "Union[str, int]"))
                      for path in operation.path_params[1:]]
            if operation.payload != "none":
                stub = PAYLOADS[operation.payload].stub
                params.append("data: %s" % ("Optional[%s] = None" % stub if not operation.payload_required else stub))
            params.append("query: Optional[Mapping[str, Any]] = None")
            keywords = ["%s: Optional[%s] = None" % (param.name, QUERY_KINDS[param.type].stub)
                        for param in operation.query_params.values()]
            return params, keywords

        methods = [(name, shape, self.classes) for name, shape in TYPED_METHODS]
        methods += [(name, shape, {collection: cls for collection, cls in self.classes.items()
                                   if collection in singletons}) for name, shape in SINGLETON_METHODS]
        for name, shape, classes in methods:
            if name not in operations or not classes and name in dict(SINGLETON_METHODS):
                continue
            params, keywords = parameters(name)
            wrap = "ItemList[%s]" if shape == "many" else "%s"
            pairs = [('Literal["%s"]' % collection, "model: None = None", wrap % cls)
                     for collection, cls in classes.items()]
            pairs += [("str", "model: None = None", wrap % "Item"), ("str", "model: Type[_M]", wrap % "_M")]
            render(name, params, keywords, pairs, "async " if asynchronous else "")
        params, keywords = parameters("read_items")
        keywords = [ITER_ITEMS_PAGE_SIZE] + [keyword for keyword in keywords
                                               if keyword.split(":")[0] not in ITER_ITEMS_REFUSED]
        iterator = "AsyncIterator[%s]" if asynchronous else "Iterator[%s]"
        pairs = [('Literal["%s"]' % collection, "model: None = None", iterator % cls)
                 for collection, cls in self.classes.items()]
        pairs += [("str", "model: None = None", iterator % "Item"), ("str", "model: Type[_M]", iterator % "_M")]
        render("iter_items", params, keywords, pairs, "")  # a plain method, whose iterator is async on AsyncDirectus
        return lines


def render_module(schema: Dict[str, Any], url: str, version: Optional[str], import_name: str = "pydirectus") -> str:
    """The text of the generated module for ``schema`` (see schema_of)."""
    module = _Module(schema)
    models: List[str] = []
    for collection in schema["collections"]:
        models.extend(module.model_lines(collection))
    sync_overloads = module.overloads(False)
    async_overloads = module.overloads(True)
    collections = ", ".join(collection["collection"] for collection in schema["collections"])
    lines = [
        '"""Typed models and clients of a Directus schema: generated by ``python -m pydirectus models``.',
        "",
        "Do not edit: generate it again when the schema changes (``--check`` tells). Collections: %s." % (
            collections or "none"),
        '"""',
        "# Generated by `python -m pydirectus models`: do not edit by hand.",
        "# server: %s" % url,
        "# version: %s" % (version or "unknown"),
        "# schema: %s" % schema_hash(schema),
        "#",
        "# The typed clients add an overload per collection (Literal[name]) before the base class's: an",
        "# override that type checkers call unsafe (ItemList[Articles] is not an ItemList[Item]): this module",
        "# tells them so.",
        '# mypy: disable-error-code="override, overload-overlap"',
        "# pyright: reportIncompatibleMethodOverride=false, reportOverlappingOverload=false",
        "",
        "from __future__ import annotations",
        "",
        "from dataclasses import dataclass",
        "",
        "from %s import DirectusClient" % import_name,
        "from %s.models import {models}" % import_name,
        "",
        "TYPE_CHECKING = False",
        "if TYPE_CHECKING:  # typing stays out of import time",
        "    {datetime}",
        "    {decimal}",
        "    from typing import {typing}",
        "",
        "    from %s import AsyncDirectusClient" % import_name,
        "",
        "    # a JSON value, as json.loads returns it",
        "    JSON = Union[Dict[str, Any], List[Any], str, int, float, bool, None]",
        '    _M = TypeVar("_M", bound=Model)',
        "",
        '__all__ = [%s]' % ", ".join('"%s"' % name for name in
                                    ["Directus", "AsyncDirectus", "MODELS"] + list(module.classes.values())),
        "",
        "",
        "def _absent() -> Any:",
        '    """None, the default of every field (typed Any: a field a query leaves out is None)."""',
        "    return None",
    ]
    lines += models
    model_map = ", ".join('"%s": %s' % item for item in module.classes.items())
    lines += [
        "",
        "",
        "# the model of each collection, which the clients build items with",
        "MODELS: Dict[str, Type[Model]] = {%s}" % model_map,
        "",
        "if not TYPE_CHECKING:  # how values are built at run time (Model.from_dict calls these)",
        "    import datetime",
        "",
        "    def _boolean(value, record):",
        "        return bool(value) if isinstance(value, int) else value  # SQLite answers 0 or 1 without cast-boolean",
        "",
        "    def _integer(value, record):",
        "        return int(value) if isinstance(value, str) else value  # PostgreSQL answers a bigint as a string",
        "",
        "    def _decimal(value, record):",
        "        from decimal import Decimal  # imported on first use: import stays cheap",
        "        return Decimal(str(value))",
        "",
        "    def _datetime(value, record):",
        "        if isinstance(value, str):",
        "            text = value[:-1] + '+00:00' if value.endswith('Z') else value",
        "            return datetime.datetime.fromisoformat(text)",
        "        return value",
        "",
        "    def _date(value, record):",
        "        if isinstance(value, str):",
        "            return datetime.date.fromisoformat(value[:10])",
        "        return value",
        "",
        "    def _time(value, record):",
        "        if isinstance(value, str):",
        "            return datetime.time.fromisoformat(value)",
        "        return value",
        "",
        "    def _one(model):",
        "        def build(value, record):",
        "            return model.from_dict(value) if isinstance(value, dict) else value",
        "        return build",
        "",
        "    def _many(model):",
        "        def build(value, record):",
        "            if isinstance(value, list):",
        "                return [model.from_dict(entry) if isinstance(entry, dict) else entry for entry in value]",
        "            return value",
        "        return build",
        "",
        "    def _any(collection_field):",
        "        def build(value, record):",
        "            if isinstance(value, dict):",
        "                model = MODELS.get(record.get(collection_field))",
        "                return (model or Item).from_dict(value)",
        "            return value",
        "        return build",
        "",
    ]
    lines += module.converters
    lines += [
        "",
        "",
        "if TYPE_CHECKING:",
        "    class Directus(DirectusClient):",
        '        """A DirectusClient whose item methods know the models of these collections."""',
        "",
        "        def __enter__(self) -> Directus:",
        "            raise NotImplementedError",
        "",
    ]
    lines += sync_overloads
    lines += [
        "    class AsyncDirectus(AsyncDirectusClient):",
        '        """An AsyncDirectusClient whose item methods know the models of these collections."""',
        "",
        "        async def __aenter__(self) -> AsyncDirectus:",
        "            raise NotImplementedError",
        "",
    ]
    lines += async_overloads
    lines += [
        "else:",
        "    class Directus(DirectusClient):",
        '        """A DirectusClient whose item methods know the models of these collections."""',
        "",
        "        collection_models = MODELS",
        "",
        "    def __getattr__(name):",
        '        """AsyncDirectus, made on first use: it imports asyncio, which plain import does not pay for."""',
        "        if name != 'AsyncDirectus':",
        "            raise AttributeError('module %r has no attribute %r' % (__name__, name))",
        "        from %s import AsyncDirectusClient" % import_name,
        "",
        "        class AsyncDirectus(AsyncDirectusClient):",
        '            """An AsyncDirectusClient whose item methods know the models of these collections."""',
        "",
        "            collection_models = MODELS",
        "",
        "        AsyncDirectus.__module__, AsyncDirectus.__qualname__ = __name__, 'AsyncDirectus'",
        "        globals()['AsyncDirectus'] = AsyncDirectus",
        "        return AsyncDirectus",
    ]
    text = "\n".join(lines).rstrip() + "\n"
    code = text.split("from __future__ import annotations", 1)[1]  # past the module's docstring and header
    code = re.sub(r'#[^\n]*|"""[^\n]*"""', "", code.replace("{typing}", "").replace("{models}", ""))
    used = set(re.findall(r"[A-Za-z_]+", code))  # the names the code uses (comments and docstrings left out)
    typing = [name for name in TYPING_NAMES if name in used]
    models_used = [name for name in ("File", "Item", "ItemList", "Model") if name in used]
    for placeholder, line, used_name in (("{datetime}", "import datetime as _dt", "_dt"),
                                         ("{decimal}", "from decimal import Decimal as _Decimal", "_Decimal")):
        text = text.replace("    %s\n" % placeholder, "    %s\n" % line if used_name in used else "")
    return text.replace("{typing}", ", ".join(typing)).replace("{models}", ", ".join(models_used))
