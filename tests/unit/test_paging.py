"""Paging above the seam, on both clients: a page size or group page above the server's
QUERY_LIMIT_MAX is lowered to it from the server's refusal, and nothing is lost or repeated."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.mocktransport import AsyncMockTransport, MockTransport, json_response

LIMIT_MAX = 3
ROWS = [{"id": n, "title": "t%d" % n} for n in range(1, 9)]


def server(request):
    """/fields answers an integer key; /items pages ROWS (keyset by _gt, or offset), refusing a
    limit above LIMIT_MAX as Directus does."""
    url = urlsplit(request.url)
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    if url.path.startswith("/fields/"):
        return json_response(200, {"data": [{"field": "id", "type": "integer", "schema": {"is_primary_key": True}}]})
    limit = int(query.get("limit", "100"))
    if limit > LIMIT_MAX:
        return json_response(400, {"errors": [{"message": 'Invalid query. "limit" must be less than or equal to %d'
                                                          % LIMIT_MAX, "extensions": {"code": "INVALID_QUERY"}}]})
    rows = ROWS
    if "filter" in query:
        after = json.loads(query["filter"])["id"]["_gt"]
        rows = [row for row in rows if row["id"] > after]
    if "groupBy" in query:
        rows = [{"title": row["title"], "count": "1"} for row in rows]
    offset = int(query.get("offset", "0"))
    return json_response(200, {"data": rows[offset:offset + limit]})


@pytest.fixture
def paging_client(client_kind, make_client):
    transport = (MockTransport if client_kind == "sync" else AsyncMockTransport)(server)
    return make_client(hostname="http://directus.test", static_token="tok", transport=transport), transport


def test_a_page_size_above_the_servers_limit_is_lowered_and_every_item_comes_once(paging_client):
    client, transport = paging_client
    assert [item.id for item in client.iter_items("articles", page_size=10)] == [row["id"] for row in ROWS]
    limits = [parse_qs(urlsplit(request.url).query).get("limit") for request in transport.requests]
    assert limits[1:3] == [["10"], ["3"]]  # refused once, then the server's size
    assert all(limit == ["3"] for limit in limits[2:])


def test_groups_are_paged_at_the_servers_limit_too(paging_client):
    client, _ = paging_client
    groups = client.aggregate("articles", count="*", group_by="title")
    assert [group["title"] for group in groups] == [row["title"] for row in ROWS]
    assert all(group["count"] == 1 for group in groups)  # numbers as numbers


# ------------------------------------------------------------------ page sizes chosen by weight, one page ahead

class Collection:
    """A collection of ``count`` items of ``item_bytes`` each, paged by keyset or offset as Directus
    does; ``requests`` records (limit, the id after which, offset) per page asked for, and
    ``on_page`` runs before each page is answered (inserting items, say)."""

    def __init__(self, count, item_bytes=100):
        self.rows = [{"id": n, "text": "x" * item_bytes} for n in range(1, count + 1)]
        self.pages = []
        self.on_page = None

    def __call__(self, request):
        url = urlsplit(request.url)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        if url.path.startswith("/fields/"):
            return json_response(200, {"data": [{"field": "id", "type": "integer", "schema": {"is_primary_key": True}}]})
        limit, offset = int(query["limit"]), int(query.get("offset", "0"))
        after = json.loads(query["filter"])["id"]["_gt"] if "filter" in query else None
        self.pages.append((limit, after, offset))
        if self.on_page is not None:
            self.on_page(len(self.pages))
        rows = sorted(self.rows, key=lambda row: row["id"])
        if after is not None:
            rows = [row for row in rows if row["id"] > after]
        return json_response(200, {"data": rows[offset:offset + limit]})


def collection_client(make_client, client_kind, collection):
    transport = (MockTransport if client_kind == "sync" else AsyncMockTransport)(collection)
    return make_client(hostname="http://directus.test", static_token="tok", transport=transport)


def test_pages_after_the_first_hold_about_a_megabyte(make_client, client_kind):
    from pydirectus._core.paging import FIRST_PAGE, PAGE_BYTES
    small = Collection(30000, item_bytes=100)
    client = collection_client(make_client, client_kind, small)
    assert [item.id for item in client.iter_items("articles")] == list(range(1, 30001))
    sizes = [limit for limit, _, _ in small.pages]
    assert sizes[0] == FIRST_PAGE
    item_bytes = len(json.dumps(small.rows[0])) + 1
    assert all(abs(size - PAGE_BYTES // item_bytes) < 0.05 * size for size in sizes[1:-1]), sizes
    large = Collection(300, item_bytes=50000)  # 50 KB items: pages of about 20
    client = collection_client(make_client, client_kind, large)
    assert [item.id for item in client.iter_items("articles")] == list(range(1, 301))
    assert max(limit for limit, _, _ in large.pages) == FIRST_PAGE  # never larger than the first
    assert [limit for limit, _, _ in large.pages][1] < 25


def test_a_chosen_page_size_and_the_servers_limit_are_kept(make_client, client_kind):
    rows = Collection(1000)
    client = collection_client(make_client, client_kind, rows)
    assert len(list(client.iter_items("articles", page_size=250))) == 1000
    assert {limit for limit, _, _ in rows.pages} == {250}


def test_the_next_page_is_asked_for_before_the_caller_reaches_it(make_client, client_kind):
    import threading
    rows = Collection(500)
    second_asked = threading.Event()
    rows.on_page = lambda number: number == 2 and second_asked.set()
    client = collection_client(make_client, client_kind, rows)
    items = iter(client.iter_items("articles", page_size=100))
    assert next(items).id == 1
    # the caller holds the first item of the first page, and the second page is on its way already
    assert second_asked.wait(5)
    assert [item.id for item in items] == list(range(2, 501))


def test_items_inserted_during_the_iteration_never_make_an_item_come_twice_or_go_missing(make_client, client_kind):
    rows = Collection(1000)
    inserted = []

    def insert(number):  # before every page: one item at the end, one in the middle of the ids seen
        new_id = 100000 + number
        rows.rows.append({"id": new_id, "text": "new"})
        inserted.append(new_id)
    rows.on_page = insert
    client = collection_client(make_client, client_kind, rows)
    seen = [item.id for item in client.iter_items("articles", page_size=100)]
    assert len(seen) == len(set(seen))
    assert set(range(1, 1001)) <= set(seen)
    assert set(seen) - set(range(1, 1001)) <= set(inserted)


def test_an_iteration_closed_early_asks_for_no_more_than_the_page_in_flight(make_client, client_kind):
    rows = Collection(5000)
    client = collection_client(make_client, client_kind, rows)
    items = client.iter_items("articles", page_size=100)
    taken = [item.id for _, item in zip(range(150), items)]
    items.close()
    assert taken == list(range(1, 151))
    import time
    time.sleep(0.2)  # a page in flight when it closed is dropped, and no page follows it
    assert len(rows.pages) <= 3


def test_the_stubs_page_size_keyword_is_the_helpers():
    import inspect
    from pydirectus._core.paging import ITER_ITEMS_PAGE_SIZE, PagingFlows
    parameter = inspect.signature(PagingFlows.iter_items).parameters["page_size"]
    assert ITER_ITEMS_PAGE_SIZE == "page_size: %s = %r" % (parameter.annotation, parameter.default)
