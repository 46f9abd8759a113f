"""Large collections: every item of a query, lazily, in constant memory; counts; aggregates.

``iter_items`` pages by keyset on the primary key when the sort allows it (no sort, or a sort on
the key alone): each page asks for the keys after the last one seen, which stays correct while
items are inserted or deleted meanwhile. Any other sort pages by offset. It never sends
``limit=-1`` (Directus clamps it silently to QUERY_LIMIT_MAX), and a page size above the server's
QUERY_LIMIT_MAX is lowered to it from the server's refusal. System collections (``directus_users``,
``directus_files``, ``directus_activity``, ...) go through their own endpoints.
"""

from __future__ import annotations

import re

from .errors import InvalidQueryError
from .interpreter import bind
from .query import flatten_fields

__all__ = ["PagingMixin"]

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Type, Union

    from .models import Item

_LIMIT_MAX = re.compile(r'"limit" must be less than or equal to (\d+)')
_AGGREGATES = (("count", "count"), ("count_distinct", "countDistinct"), ("count_all", "countAll"),
               ("sum", "sum"), ("sum_distinct", "sumDistinct"), ("avg", "avg"),
               ("avg_distinct", "avgDistinct"), ("min", "min"), ("max", "max"))


def _number(value):
    """Aggregates come back as numbers or, from some databases, as numeric strings."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    if isinstance(value, dict):
        return {key: _number(inner) for key, inner in value.items()}
    return value


def _sort_fields(sort):
    if sort is None:
        return []
    if isinstance(sort, str):
        return [part.strip() for part in sort.split(",") if part.strip()]
    return list(sort)


class PagingMixin:
    """iter_items, count_items and aggregate for DirectusClient."""

    def _list_operation(self, collection):
        """The operation that lists ``collection``, and the path values it takes."""
        if not isinstance(collection, str) or not collection:
            raise TypeError("collection must be a non-empty string")
        if collection.startswith("directus_"):
            operation = self._system_list_operations().get(collection)
            if operation is None:
                raise ValueError("%r has no list endpoint that takes a query" % collection)
            return operation, ()
        return self.operations["read_items"], (collection,)

    @classmethod
    def _system_list_operations(cls):
        found = cls.__dict__.get("_system_lists")
        if found is None:
            found = {}
            for operation in cls.operations.values():
                path = operation.path
                if (operation.method == "GET" and operation.result in ("items", "files") and "fields" in
                        operation.query_params and path.count("/") == 1 and not operation.path_params):
                    found["directus_" + path[1:]] = operation
            cls._system_lists = found
        return found

    def _primary_key(self, collection):
        """The primary key's name, and whether it can be paged by keyset (an integer: Directus
        offers no _gt on uuid fields)."""
        cache = self.__dict__.setdefault("_primary_keys", {})
        if collection not in cache:
            fields = self.read_fields_by_collection(collection)
            keys = [f for f in fields if (f.get("schema") or {}).get("is_primary_key")]
            key = keys[0] if keys else {"field": "id", "type": None}
            cache[collection] = (key["field"], key.get("type") in ("integer", "bigInteger"))
        return cache[collection]

    def iter_items(self, collection: str, query: Optional[Mapping[str, Any]] = None, *, page_size: int = 100,
                   **arguments: Any) -> Iterator[Item]:
        """Yield every item of ``collection`` that matches the query, one page at a time.

        Takes the query parameters of ``read_items`` (``filter``, ``fields``, ``sort``, ``deep``,
        ``search``, ``alias``, ``model``, ...). ``limit`` caps the number of items yielded, ``offset``
        skips some first (it forces offset paging). Keyset paging on an integer primary key is
        used when ``sort`` is absent or the key alone (``"id"`` or ``"-id"``): items inserted
        during the iteration never make it yield an item twice. Other sorts, and UUID keys (which
        Directus cannot compare), page by offset.
        """
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValueError("page_size must be a positive integer, got %r" % (page_size,))
        operation, path_args = self._list_operation(collection)
        path_values, _, query_values, model = bind(operation, path_args, dict(arguments, query=query))
        for refused in ("aggregate", "groupBy", "page"):
            if query_values.get(refused) is not None:
                raise TypeError("iter_items() does not take %r: use aggregate() or read_items()" % refused)
        limit = query_values.pop("limit", None)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError("limit must be a whole number of items to yield at most, got %r" % (limit,))
        offset = query_values.pop("offset", None) or 0
        key, orderable = self._primary_key(collection)
        sort = _sort_fields(query_values.get("sort"))
        keyset = orderable and offset == 0 and sort in ([], [key], ["-" + key])
        descending = sort == ["-" + key]
        added_key = False
        fields = query_values.get("fields")
        if keyset and fields is not None:
            names = fields.split(",") if isinstance(fields, str) else flatten_fields(fields)
            if "*" not in names and key not in names:
                query_values["fields"] = names + [key]
                added_key = True
        user_filter = query_values.get("filter")
        return self._pages(operation, path_values, query_values, model, page_size, limit, offset, key,
                           keyset, descending, user_filter, added_key)

    def _pages(self, operation, path_values, query_values, model, page_size, limit, offset, key, keyset,
               descending, user_filter, added_key):
        yielded = 0
        last = None
        while limit is None or yielded < limit:
            size = page_size if limit is None else min(page_size, limit - yielded)
            page_query = dict(query_values, limit=size)
            if keyset:
                page_query["sort"] = ["-" + key if descending else key]
                if last is not None:
                    after = {key: {"_lt" if descending else "_gt": last}}
                    page_query["filter"] = {"_and": [user_filter, after]} if user_filter else after
            else:
                page_query["offset"] = offset + yielded
            try:
                page = self._call(operation, path_values, None, page_query, model)
            except InvalidQueryError as error:
                found = _LIMIT_MAX.search(error.message or "")
                if found and int(found.group(1)) < size:
                    page_size = int(found.group(1))  # the server's QUERY_LIMIT_MAX
                    continue
                raise
            for item in page:
                if keyset:
                    last = item[key]
                    if added_key:
                        del item[key]
                yield item
            yielded += len(page)
            if len(page) < size:
                return

    def count_items(self, collection: str, query: Optional[Mapping[str, Any]] = None, *, filter: Any = None,
                    search: Optional[str] = None) -> int:
        """How many items of ``collection`` match ``filter`` and ``search`` (all of them without)."""
        rows = self.aggregate(collection, query, count="*", filter=filter, search=search)
        return int(rows.get("count") or 0)

    def aggregate(self, collection: str, query: Optional[Mapping[str, Any]] = None, *, count: Any = None,
                  count_distinct: Any = None, count_all: Any = None, sum: Any = None, sum_distinct: Any = None,
                  avg: Any = None, avg_distinct: Any = None, min: Any = None, max: Any = None,
                  group_by: Optional[Union[str, Sequence[str]]] = None, filter: Any = None,
                  search: Optional[str] = None, sort: Optional[Union[str, Sequence[str]]] = None,
                  limit: Optional[int] = None) -> Any:
        """Aggregates of ``collection``: ``count``, ``count_distinct``, ``sum``, ``avg``, ``min``,
        ``max`` (and the ``_distinct`` and ``count_all`` forms), each a field name, a list of them,
        or ``"*"`` for count.

        Without ``group_by`` the result is one dict, e.g. ``{"count": 10, "sum": {"views": 42}}``;
        with it, a list of such dicts, each with its group's values. Numbers come back as numbers.
        """
        chosen = locals()
        wanted = {wire: chosen[name] for name, wire in _AGGREGATES if chosen[name] is not None}
        if not wanted:
            raise TypeError("aggregate() needs at least one of: %s" % ", ".join(n for n, _ in _AGGREGATES))
        operation, path_args = self._list_operation(collection)
        arguments = {"aggregate": wanted, "group_by": group_by, "filter": filter, "search": search, "sort": sort,
                     "limit": limit, "query": query}
        path_values, _, query_values, _ = bind(operation, path_args, arguments)
        if not group_by:
            rows = self._call(operation, path_values, None, query_values, None)
            return {name: _number(value) for name, value in rows[0].items()} if rows else {}
        # groups come a page at a time like items: read them all (or up to limit), never with limit=-1
        groups = []
        page_size = 100
        while limit is None or len(groups) < limit:
            size = page_size if limit is None else min(page_size, limit - len(groups))
            page_query = dict(query_values, limit=size, offset=len(groups))
            try:
                rows = self._call(operation, path_values, None, page_query, None)
            except InvalidQueryError as error:
                found = _LIMIT_MAX.search(error.message or "")
                if found and int(found.group(1)) < size:
                    page_size = int(found.group(1))
                    continue
                raise
            groups.extend({name: _number(value) for name, value in row.items()} for row in rows)
            if len(rows) < size:
                break
        return groups
