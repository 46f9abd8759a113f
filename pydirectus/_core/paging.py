"""Large collections: every item of a query, lazily, in constant memory; counts; aggregates.

``iter_items`` pages by keyset on the primary key when the sort allows it (no sort, or a sort on
the key alone): each page asks for the keys after the last one seen, which stays correct while
items are inserted or deleted meanwhile. Any other sort pages by offset. It never sends
``limit=-1`` (Directus clamps it silently to QUERY_LIMIT_MAX), and a page size above the server's
QUERY_LIMIT_MAX is lowered to it from the server's refusal. Pages are sized by weight (about
PAGE_BYTES each) unless the caller fixes a size, and the next page's request goes out (``Start``)
as soon as a page arrives, so that it travels while the caller works. System collections
(``directus_users``, ``directus_files``, ``directus_activity``, ...) go through their own endpoints.

The paging is written once, as flows that call operations (``ClientBase._call_flow``) and
``Deliver`` each item: ``iter_items``, ``count_items`` and ``aggregate`` are helpers (see
``helpers``), the same for both clients.
"""

from __future__ import annotations

import re

from .effects import Deliver, Join, Start
from ..errors import InvalidQueryError, is_whole
from .helpers import helper
from .interpreter import bind
from .query import flatten_fields
from .records import decode_result

__all__ = ["PagingFlows", "ITER_ITEMS_REFUSED", "ITER_ITEMS_PAGE_SIZE", "FIRST_PAGE", "PAGE_BYTES", "MAX_PAGE"]

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union

    from .effects import Delivering, Flow, Started
    from .policy import RequestPolicy
    from .records import Request
    from ..errors import APIError
    from ..models import Item
    from .spec import Operation

    T = TypeVar("T")

_LIMIT_MAX = re.compile(r'"limit" must be less than or equal to (\d+)')
_AGGREGATES = (("count", "count"), ("count_distinct", "countDistinct"), ("count_all", "countAll"),
               ("sum", "sum"), ("sum_distinct", "sumDistinct"), ("avg", "avg"),
               ("avg_distinct", "avgDistinct"), ("min", "min"), ("max", "max"))
_GROUP_PAGE_SIZE = 100
# iter_items' pages when the caller sets no page_size: a first page of FIRST_PAGE items, then as
# many as make about PAGE_BYTES of answer (JSON as the server sends it, before compression), at
# most MAX_PAGE. Two pages at most are held: the one being handed over and the next, in flight.
FIRST_PAGE = 100
PAGE_BYTES = 1024 * 1024
MAX_PAGE = 10000
# read_items' query parameters iter_items refuses (spec/generate.py leaves them out of its stub too)
ITER_ITEMS_REFUSED = ("page", "aggregate", "group_by", "export")
# iter_items' own keyword, as the stubs and typed clients write it (a test checks it against the signature)
ITER_ITEMS_PAGE_SIZE = "page_size: Optional[int] = None"


def _number(value: Any) -> Any:
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


def _sort_fields(sort: Optional[Union[str, Sequence[str]]]) -> List[str]:
    if sort is None:
        return []
    if isinstance(sort, str):
        return [part.strip() for part in sort.split(",") if part.strip()]
    return list(sort)


def _learnt_page_size(error: APIError, size: int) -> Optional[int]:
    """The server's QUERY_LIMIT_MAX when ``error`` refuses a page of ``size`` for being above it."""
    found = _LIMIT_MAX.search(error.message or "")
    return int(found.group(1)) if found and int(found.group(1)) < size else None


def _page_size(page_size: object) -> Optional[int]:
    if page_size is not None and not is_whole(page_size, 1):
        raise ValueError("page_size must be a positive integer or None (chosen by size), got %r" % (page_size,))
    return page_size


class _Iteration:
    """What ``iter_items`` was asked, checked before anything is sent."""

    def __init__(self, listing: Tuple[Operation, Tuple[str, ...]], collection: str, query: Optional[Mapping[str, Any]],
                 page_size: Optional[int], arguments: Dict[str, Any]) -> None:
        self.page_size = _page_size(page_size)
        self.collection = collection
        self.operation, path_args = listing
        self.path_values, _, query_values, self.model = bind(self.operation, path_args,
                                                             dict(arguments, query=query))
        for param in self.operation.query_params.values():
            if param.name in ITER_ITEMS_REFUSED and query_values.get(param.wire) is not None:
                raise TypeError("iter_items() does not take %r: use aggregate() or read_items()" % param.name)
        limit = query_values.pop("limit", None)
        if limit is not None and not is_whole(limit):
            raise ValueError("limit must be a whole number of items to yield at most, got %r" % (limit,))
        self.limit = limit
        self.offset = query_values.pop("offset", None) or 0
        self.query_values = query_values





class _PageSizes:
    """The size of each page of an iteration: ``page_size`` when the caller chose one; else chosen
    from what the pages weigh, about PAGE_BYTES of answer each (a first page of FIRST_PAGE
    items tells how large the items are), so that a collection of small items goes in few round
    trips and one of large items never holds much in memory. Either way never above the server's
    QUERY_LIMIT_MAX, learnt from its refusal and remembered by the client (``server_limits``)."""

    __slots__ = ("chosen", "current", "server_limits")

    def __init__(self, chosen: Optional[int], server_limits: Dict[str, int]) -> None:
        self.chosen = chosen
        self.current = chosen or FIRST_PAGE
        self.server_limits = server_limits

    def next(self, limit: Optional[int], yielded: int) -> int:
        """The size of the page after ``yielded`` items (0: ``limit`` is reached)."""
        size = self.current
        ceiling = self.server_limits.get("QUERY_LIMIT_MAX")
        if ceiling is not None:
            size = min(size, ceiling)
        return size if limit is None else max(0, min(size, limit - yielded))

    def learn(self, ceiling: int) -> None:
        self.server_limits["QUERY_LIMIT_MAX"] = ceiling

    def measured(self, items: int, body_size: int) -> None:
        if self.chosen is None and items and body_size:
            self.current = max(1, min(MAX_PAGE, PAGE_BYTES * items // body_size))


class PagingFlows:
    """The paging helpers of both clients, and the operations they page through."""

    if TYPE_CHECKING:  # what ClientBase, beside which this is mixed in, brings
        operations: Dict[str, Operation]

        collection_models: Dict[str, Type[Item]]
        _policy: RequestPolicy

        def _call_flow(self, operation: Operation, path_values: Mapping[str, Any], data: Any,
                       query_values: Mapping[str, Any], model: Optional[Type[Item]]) -> Flow[Any]: ...

        def _operation_request(self, operation: Operation, path_values: Mapping[str, Any], data: Any,
                               query_values: Mapping[str, Any]) -> Request: ...
        _system_lists: Dict[str, Operation]  # set on the class, see _system_list_operations

    def _list_operation(self, collection: str) -> Tuple[Operation, Tuple[str, ...]]:
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
    def _system_list_operations(cls) -> Dict[str, Operation]:
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

    @helper("iterate")
    def iter_items(self, collection: str, query: Optional[Mapping[str, Any]] = None, *,
                   page_size: Optional[int] = None, **arguments: Any) -> Delivering[Item]:
        """Yield every item of ``collection`` that matches the query, one page at a time.

        Takes the query parameters of ``read_items`` (``filter``, ``fields``, ``sort``, ``deep``,
        ``search``, ``alias``, ``model``, ...). ``limit`` caps the number of items yielded, ``offset``
        skips some first (it forces offset paging). Keyset paging on an integer primary key is
        used when ``sort`` is absent or the key alone (``"id"`` or ``"-id"``): items inserted
        during the iteration never make it yield an item twice. Other sorts, and UUID keys (which
        Directus cannot compare), page by offset. Arguments are checked before anything is sent;
        the first request goes out when the first item is asked for.

        ``page_size`` fixes the items per page; by default a first page of 100 items tells how
        large they are, and the pages after it hold about 1 MB of answer each (never more than the
        server's QUERY_LIMIT_MAX). Each page's request goes out as soon as the page before it
        arrives, so the next page is on its way while the caller works through the current one:
        two pages at most are held, never the whole collection.
        """
        return self._items_flow(_Iteration(self._list_operation(collection), collection, query, page_size, arguments))

    @helper("run")
    def count_items(self, collection: str, query: Optional[Mapping[str, Any]] = None, *, filter: Any = None,
                    search: Optional[str] = None) -> Flow[int]:
        """How many items of ``collection`` match ``filter`` and ``search`` (all of them without)."""
        rows = yield from self._aggregate_request(collection, query, {"count": "*", "filter": filter, "search": search})
        return int(rows.get("count") or 0)

    @helper("run")
    def aggregate(self, collection: str, query: Optional[Mapping[str, Any]] = None, *, count: Any = None,
                  count_distinct: Any = None, count_all: Any = None, sum: Any = None, sum_distinct: Any = None,
                  avg: Any = None, avg_distinct: Any = None, min: Any = None, max: Any = None,
                  group_by: Optional[Union[str, Sequence[str]]] = None, filter: Any = None,
                  search: Optional[str] = None, sort: Optional[Union[str, Sequence[str]]] = None,
                  limit: Optional[int] = None) -> Flow[Any]:
        """Aggregates of ``collection``: ``count``, ``count_distinct``, ``sum``, ``avg``, ``min``,
        ``max`` (and the ``_distinct`` and ``count_all`` forms), each a field name, a list of them,
        or ``"*"`` for count.

        Without ``group_by`` the result is one dict, e.g. ``{"count": 10, "sum": {"views": 42}}``;
        with it, a list of such dicts, each with its group's values. Numbers come back as numbers.
        """
        return self._aggregate_request(collection, query, locals())

    def _aggregate_request(self, collection: str, query: Optional[Mapping[str, Any]],
                           chosen: Dict[str, Any]) -> Flow[Any]:
        wanted = {wire: chosen[name] for name, wire in _AGGREGATES if chosen.get(name) is not None}
        if not wanted:
            raise TypeError("aggregate() needs at least one of: %s" % ", ".join(n for n, _ in _AGGREGATES))
        operation, path_args = self._list_operation(collection)
        arguments = {name: chosen.get(name) for name in ("group_by", "filter", "search", "sort", "limit")}
        path_values, _, query_values, _ = bind(operation, path_args, dict(arguments, aggregate=wanted, query=query))
        return self._aggregate_flow(operation, path_values, query_values, bool(chosen.get("group_by")),
                                    chosen.get("limit"))

    def _primary_key_flow(self, collection: str) -> Flow[Tuple[str, bool]]:
        """The primary key's name, and whether it can be paged by keyset (an integer: Directus offers
        no _gt on uuid fields). Learnt once per client and collection."""
        cache = self.__dict__.setdefault("_primary_keys", {})  # type: Dict[str, Tuple[str, bool]]
        if collection not in cache:
            operation = self.operations["read_fields_by_collection"]
            fields = yield from self._call_flow(operation, bind(operation, (collection,), {})[0], None, {}, None)
            keys = [f for f in fields if (f.get("schema") or {}).get("is_primary_key")]
            key = keys[0] if keys else {"field": "id", "type": None}  # type: Dict[str, Any]
            cache[collection] = (key["field"], key.get("type") in ("integer", "bigInteger"))
        return cache[collection]

    def _items_flow(self, plan: _Iteration) -> Flow[None]:
        """Deliver every item of ``plan``, read a page at a time, the next page in flight while the
        caller works through the current one."""
        key, orderable = yield from self._primary_key_flow(plan.collection)
        query_values = plan.query_values
        sort = _sort_fields(query_values.get("sort"))
        keyset = orderable and plan.offset == 0 and sort in ([], [key], ["-" + key])
        descending = sort == ["-" + key]
        added_key = False
        fields = query_values.get("fields")
        if keyset and fields is not None:
            names = fields.split(",") if isinstance(fields, str) else flatten_fields(fields)
            if "*" not in names and key not in names:
                query_values = dict(query_values, fields=names + [key])
                added_key = True
        user_filter = query_values.get("filter")
        limit = plan.limit

        def page_query(size: int, last: Any, position: int) -> Dict[str, Any]:
            """The query of the page of ``size`` after key ``last`` (keyset) or at ``position`` (offset)."""
            query = dict(query_values, limit=size)
            if keyset:
                query["sort"] = ["-" + key if descending else key]
                if last is not None:
                    after = {key: {"_lt" if descending else "_gt": last}}
                    query["filter"] = {"_and": [user_filter, after]} if user_filter else after
            else:
                query["offset"] = plan.offset + position
            return query

        sizes = _PageSizes(plan.page_size, self.__dict__.setdefault("_server_limits", {}))
        yielded = 0
        last = None
        size = sizes.next(limit, yielded)
        if size == 0:
            return
        fetched = yield from self._page_with_size_flow(plan, page_query(size, None, 0))
        ahead: Optional[Started] = None
        try:
            while True:
                page, learnt, body_size = fetched
                if learnt is not None:  # refused for its size: the server's QUERY_LIMIT_MAX, remembered
                    sizes.learn(learnt)
                    size = sizes.next(limit, yielded)
                    fetched = yield from self._page_with_size_flow(plan, page_query(size, last, yielded))
                    continue
                if keyset and page:
                    last = page[-1][key]
                sizes.measured(len(page), body_size)
                following = sizes.next(limit, yielded + len(page)) if len(page) == size else 0
                if following:  # the next page's request goes out now, before this page is handed over
                    ahead = yield Start(self._page_with_size_flow(plan, page_query(following, last,
                                                                                   yielded + len(page))))
                for item in page:
                    if added_key:
                        del item[key]
                    yield Deliver(item)
                yielded += len(page)
                if not following:
                    return
                started, ahead = ahead, None
                fetched = yield Join(started)  # type: ignore[arg-type]  # set with following above
                size = following
        finally:
            if ahead is not None:  # closed early: the page in flight is not wanted
                ahead.cancel()

    def _page_with_size_flow(self, plan: _Iteration, query_values: Dict[str, Any]
                             ) -> Flow[Tuple[List[Any], Optional[int], int]]:
        """(the page's items, None, the size of its answer in bytes), or ([], the server's
        QUERY_LIMIT_MAX, 0) when it refused the page's ``limit`` for being above it."""
        operation, model = plan.operation, plan.model
        if model is None and self.collection_models:
            model = self.collection_models.get(plan.path_values.get("collection", ""))
        request = self._operation_request(operation, plan.path_values, None, query_values)
        response = yield from self._policy.request_flow(request)
        try:
            page = decode_result(operation, response, model)
        except InvalidQueryError as error:
            learnt = _learnt_page_size(error, query_values["limit"])
            if learnt is None:
                raise
            return [], learnt, 0
        return page, None, len(response.body or b"")

    def _aggregate_flow(self, operation: Operation, path_values: Dict[str, Any], query_values: Dict[str, Any], grouped: bool,
                        limit: Optional[int]) -> Flow[Any]:
        """The aggregates, numbers as numbers: one dict, or a list of every group's (read a page at a
        time, never with limit=-1)."""
        if not grouped:
            rows = yield from self._call_flow(operation, path_values, None, query_values, None)
            return {name: _number(value) for name, value in rows[0].items()} if rows else {}
        groups = []  # type: List[Dict[str, Any]]
        page_size = _GROUP_PAGE_SIZE
        while limit is None or len(groups) < limit:
            size = page_size if limit is None else min(page_size, limit - len(groups))
            rows, learnt = yield from self._page_flow(operation, path_values,
                                                      dict(query_values, limit=size, offset=len(groups)), None)
            if learnt is not None:
                page_size = learnt
                continue
            groups.extend({name: _number(value) for name, value in row.items()} for row in rows)
            if len(rows) < size:
                break
        return groups

    def _page_flow(self, operation: Operation, path_values: Dict[str, Any], query_values: Dict[str, Any],
                   model: Optional[Type[Item]]) -> Flow[Tuple[List[Any], Optional[int]]]:
        """(the page's rows, None), or ([], the server's QUERY_LIMIT_MAX) when it refused the page's
        ``limit`` for being above it; any other refusal raises."""
        try:
            return (yield from self._call_flow(operation, path_values, None, query_values, model)), None
        except InvalidQueryError as error:
            learnt = _learnt_page_size(error, query_values["limit"])
            if learnt is None:
                raise
            return [], learnt
